import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(coerce: boolean): Ajv {
  // Bodies are checked exactly (no coercion: "5" is not a number; unknown fields are errors, not dropped).
  // Query strings and path params are text on the wire, so they are coerced.
  const ajv = new Ajv({
    coerceTypes: coerce,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);

function where(dataVar: string, instancePath: string): string {
  const path = instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
  return `${dataVar === 'querystring' ? 'query' : dataVar}${path}`;
}

/** Turns Ajv's first error into a sentence naming the field, e.g. `body.owner has an unknown field "tem"`. */
export function formatValidationErrors(errors: ErrorObject[], dataVar: string): Error {
  const e = errors[0];
  if (e === undefined) return new Error(`${dataVar} is invalid`);
  const at = where(dataVar, e.instancePath);
  const p = e.params as Record<string, unknown>;
  let msg: string;
  switch (e.keyword) {
    case 'additionalProperties':
      msg = `${at} has an unknown field "${String(p.additionalProperty)}"`;
      break;
    case 'required':
      msg = `${at} is missing the required field "${String(p.missingProperty)}"`;
      break;
    case 'enum':
      msg = `${at} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'type':
      msg = `${at} must be ${String(p.type)}`;
      break;
    case 'anyOf': {
      const inner = errors.find((x) => x.keyword === 'const' || x.keyword === 'type' || x.keyword === 'enum');
      msg =
        inner?.keyword === 'const'
          ? `${at} must be one of ${errors
              .filter((x) => x.keyword === 'const' && x.instancePath === e.instancePath)
              .map((x) => JSON.stringify((x.params as { allowedValue: unknown }).allowedValue))
              .join(', ')}`
          : `${at} has the wrong type or shape`;
      break;
    }
    default:
      msg = `${at} ${e.message ?? 'is invalid'}`;
  }
  return new Error(msg);
}

/** A request body's validator outside Fastify (the verify fast path): the same Ajv as the routes'. */
export function compileBodyValidator(schema: object): ValidateFunction {
  return bodyAjv.compile(schema);
}
