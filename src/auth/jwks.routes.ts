import { Type } from '../vendor/typebox.ts';
import type { App } from '../http/app-types.ts';
import { jwks, type SigningKeys } from './signing-keys.ts';

const Jwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});

export async function jwksRoutes(app: App, options: { keys: SigningKeys }): Promise<void> {
  const document = {
    keys: jwks(options.keys).keys.map((jwk) => ({
      kty: String(jwk.kty),
      crv: String(jwk.crv),
      x: String(jwk.x),
      kid: String(jwk.kid),
      alg: String(jwk.alg),
      use: String(jwk.use),
    })),
  };
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        summary: 'The public keys (JWKS) that verify access tokens, retired ones included until their tokens expire.',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      reply.header('Cache-Control', 'public, max-age=300');
      return document;
    },
  );
}
