import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { httpError } from './http-error.js';

/** Who a request runs as: a database role and the JWT claims (PostgREST's request.jwt.claims). */
export interface Identity {
  role: string;
  /** The claims as JSON text, for set_config('request.jwt.claims', …). */
  claims: string;
}

export interface AuthOptions {
  /** HS256 secret (AQEVENT_JWT_SECRET). Without it every token is refused. */
  jwtSecret?: string;
  /** Role for requests without a token (AQEVENT_ANON_ROLE). Without it they get 401. */
  anonRole?: string;
}

function bearer(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw httpError(401, 'the Authorization header must be "Bearer <JWT>"');
    return match[1];
  }
  // EventSource cannot set headers.
  return url.searchParams.get('access_token') ?? undefined;
}

/** The request's identity: its verified token, else the anonymous role, else 401. */
export async function authenticate(req: IncomingMessage, url: URL, options: AuthOptions): Promise<Identity> {
  const token = bearer(req, url);
  if (token === undefined) {
    if (options.anonRole) return { role: options.anonRole, claims: JSON.stringify({ role: options.anonRole }) };
    throw httpError(401, 'a token is required: send "Authorization: Bearer <JWT>" or ?access_token=');
  }
  if (!options.jwtSecret) throw httpError(401, 'tokens are not accepted: the server has no JWT secret (AQEVENT_JWT_SECRET)');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(options.jwtSecret), { algorithms: ['HS256'] }));
  } catch (error) {
    const why = error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid';
    throw httpError(401, `${why} (${(error as Error).message})`);
  }
  const role = payload.role;
  if (typeof role !== 'string' || role === '') throw httpError(401, 'the token has no "role" claim');
  return { role, claims: JSON.stringify(payload) };
}

/** A development token for role, valid for ttlMs. */
export async function mintToken(options: { secret: string; role: string; ttlMs: number; claims?: Record<string, unknown> }): Promise<string> {
  return new SignJWT({ ...options.claims, role: options.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor((Date.now() + options.ttlMs) / 1000))
    .sign(new TextEncoder().encode(options.secret));
}
