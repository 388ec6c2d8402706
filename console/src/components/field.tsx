import { useId, type ReactNode } from 'react';

/** A labelled input with an optional hint tied to it (aria-describedby). */
export function Text(props: {
  label: string;
  value: string;
  set: (v: string) => void;
  hint?: string;
  required?: boolean;
  type?: string;
  readOnly?: boolean;
}): ReactNode {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>
        {props.label}
        {props.required === true ? <span aria-hidden="true"> *</span> : null}
      </label>
      <input
        id={id}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        readOnly={props.readOnly}
        aria-describedby={props.hint !== undefined ? `${id}-hint` : undefined}
        onChange={(e) => {
          props.set(e.target.value);
        }}
      />
      {props.hint !== undefined ? (
        <p id={`${id}-hint`} className="hint">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}
