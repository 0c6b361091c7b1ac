import { z } from 'zod';
import type { ApiContext, ZodApp } from '../api-context.js';
import { authenticateApiKey } from '../auth/api-key.service.js';
import type { FailedAuthLimiter } from '../auth/failed-auth-limiter.js';
import {
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  encodeSession,
  isLocalPath,
} from '../auth/session.js';
import { escapeXml } from '../visualizer/chart-svg.js';

const LoginBodySchema = z.strictObject({
  key: z.string().min(1).max(200),
  next: z.string().max(2000).optional(),
});

const LoginQuerySchema = z.strictObject({ next: z.string().max(2000).optional() });

/**
 * The browser login: GET /login shows a form, POST /login exchanges an API key for a signed,
 * HTTP-only, SameSite=Strict session cookie and redirects to `next`; POST /logout ends it.
 * The pages (Bull Board, the visualizer, the docs' "try it out") then work with the cookie.
 */
export function registerLoginRoutes(app: ZodApp, ctx: ApiContext, limiter: FailedAuthLimiter) {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 8192 },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  showLoginForm(app);
  openSession(app, ctx, limiter);
  closeSession(app);
}

/** GET /login. */
function showLoginForm(app: ZodApp): void {
  app.get(
    '/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Login form (HTML)',
        querystring: LoginQuerySchema,
        produces: ['text/html'],
      },
    },
    (request, reply) =>
      reply.type('text/html; charset=utf-8').send(loginPage(safeNext(request.query.next), '')),
  );
}

/** POST /login. */
function openSession(app: ZodApp, ctx: ApiContext, limiter: FailedAuthLimiter): void {
  app.post(
    '/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Exchange an API key for a session cookie, then redirect to `next`',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: LoginBodySchema,
      },
    },
    async (request, reply) => {
      const next = safeNext(request.body.next);
      const retryAfterMs = limiter.retryAfterMs(request.ip);
      if (retryAfterMs > 0) {
        const wait = Math.ceil(retryAfterMs / 1000);
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .type('text/html; charset=utf-8')
          .send(loginPage(next, `Too many failed attempts; try again in ${wait} s.`));
      }

      const principal = await authenticateApiKey(
        ctx.orm.em.fork(),
        request.body.key,
        ctx.config.ADMIN_API_KEY,
      );
      if (!principal) {
        limiter.recordFailure(request.ip);
        return reply
          .code(401)
          .type('text/html; charset=utf-8')
          .send(loginPage(next, 'Unknown API key.'));
      }

      const expiresAt = Date.now() + SESSION_TTL_SECONDS * 1000;
      return reply
        .setCookie(SESSION_COOKIE, encodeSession({ keyId: principal.keyId, expiresAt }), {
          signed: true,
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          path: '/',
          maxAge: SESSION_TTL_SECONDS,
        })
        .redirect(next, 303);
    },
  );
}

/** POST /logout. */
function closeSession(app: ZodApp): void {
  app.post(
    '/logout',
    {
      config: { access: 'public' },
      schema: { tags: ['session'], summary: 'End the browser session' },
    },
    (_request, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/' }).redirect('/login', 303),
  );
}
function safeNext(next: string | undefined): string {
  return next && isLocalPath(next) ? next : '/debug/machines';
}

function loginPage(next: string, problem: string): string {
  const message = problem ? `<p class="problem" role="alert">${escapeXml(problem)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sitewire · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;
background:#f6f7f9}
form{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:1.5rem;width:22rem}
label,input,button{display:block;width:100%;box-sizing:border-box}
input{margin:.4rem 0 1rem;padding:.5rem;font-family:ui-monospace,monospace}
button{padding:.5rem;background:#0a58ca;color:#fff;border:0;border-radius:4px}
.problem{color:#b00020}
</style></head><body>
<form method="post" action="/login">
<h1>sitewire</h1>${message}
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" required autofocus>
<input type="hidden" name="next" value="${escapeXml(next)}">
<button type="submit">Sign in</button>
</form></body></html>`;
}
