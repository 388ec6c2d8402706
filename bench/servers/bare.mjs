// Baselines for the HTTP benchmark: a bare Fastify hello-world route, and a bare route that
// parses a verify-sized JSON body and answers a verify-sized response.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const answer = {
  valid: true,
  code: 'VALID',
  keyId: 'key_Vbi8rJ8Y7hwhLTXGJ2b',
  name: 'bench-prod-k1',
  environment: 'production',
  customerId: null,
  owner: { team: 'bench', contact: 'b@x' },
  permissions: ['agents:invoke'],
  expiresAt: null,
  ratelimit: null,
  credits: null,
  metadata: {},
};
app.get('/hello', () => ({ hello: 'world' }));
app.post('/echo', (req) => ({ ...answer, name: typeof req.body?.key === 'string' ? answer.name : 'x' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');
// A clean exit on SIGTERM, so that `node --cpu-prof` writes its profile (bench/profile-http.mjs).
process.on('SIGTERM', () => process.exit(0));
