import { baseRequest, setToken } from "@linode/api-v4";
import type { AxiosError, InternalAxiosRequestConfig } from "axios";

/**
 * @linode/api-v4, set up once per process: the token from LINODE_TOKEN, an
 * optional other API root (LINODE_API_URL: a proxy, or the loopback server the
 * tests run), bounded retries for 429 and 5xx, and errors that say what to do.
 */

export class LinodeApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = "LinodeApiError";
  }
}

export interface ApiOptions {
  token: string;
  /** Replaces https://api.linode.com in every request URL. */
  apiUrl?: string;
  /** Attempts for a request that gets 429 or 5xx or no answer (default 4). */
  attempts?: number;
  /** Upper bound on one wait between attempts, whatever Retry-After says (default 30 s). */
  maxWaitMs?: number;
  /** Base of the exponential back-off for 5xx and network errors (default 500 ms). */
  backoffMs?: number;
  log?: (line: string) => void;
}

const LINODE_ROOT = "https://api.linode.com";
let configured: { token: string; interceptors: number[] } | undefined;

type RetryConfig = InternalAxiosRequestConfig & { redisDrAttempt?: number };

/** Read LINODE_TOKEN (and LINODE_API_URL) from the environment; one clear error if missing. */
export function apiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ApiOptions {
  const token = env.LINODE_TOKEN?.trim();
  if (!token) {
    throw new LinodeApiError(
      "LINODE_TOKEN is not set: create a personal access token (Cloud Manager > API Tokens) with read/write on Kubernetes, NodeBalancers, Linodes, Volumes and Firewalls, then export LINODE_TOKEN=<token>",
      undefined,
    );
  }
  return { token, ...(env.LINODE_API_URL ? { apiUrl: env.LINODE_API_URL.replace(/\/$/, "") } : {}) };
}

export function configureLinodeApi(options: ApiOptions): void {
  if (configured) {
    for (const id of configured.interceptors) {
      baseRequest.interceptors.request.eject(id);
      baseRequest.interceptors.response.eject(id);
    }
  }
  const attempts = options.attempts ?? 4;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const backoffMs = options.backoffMs ?? 500;
  const interceptors: number[] = [setToken(options.token)];
  if (options.apiUrl) {
    const root = options.apiUrl;
    interceptors.push(
      baseRequest.interceptors.request.use((config) => ({ ...config, url: config.url?.replace(LINODE_ROOT, root) }) as InternalAxiosRequestConfig),
    );
  }
  interceptors.push(
    baseRequest.interceptors.response.use(undefined, async (error: AxiosError) => {
      const config = error.config as RetryConfig | undefined;
      const status = error.response?.status;
      const retryable = status === undefined || status === 429 || status >= 500;
      const attempt = (config?.redisDrAttempt ?? 1) + 1;
      if (!config || !retryable || attempt > attempts) throw toLinodeError(error);
      const retryAfter = Number(error.response?.headers?.["retry-after"]);
      const waitMs = Math.min(
        maxWaitMs,
        status === 429 && Number.isFinite(retryAfter) ? retryAfter * 1000 : backoffMs * 2 ** (attempt - 2),
      );
      options.log?.(`Linode API ${config.method?.toUpperCase()} ${pathOf(config.url)}: ${status ?? error.code}; retry ${attempt - 1}/${attempts - 1} in ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
      return baseRequest({ ...config, redisDrAttempt: attempt } as RetryConfig);
    }),
  );
  configured = { token: options.token, interceptors };
}

const pathOf = (url: string | undefined) => (url ?? "").replace(/^https?:\/\/[^/]+/, "");

function toLinodeError(error: AxiosError): LinodeApiError {
  const status = error.response?.status;
  const where = `${error.config?.method?.toUpperCase() ?? "?"} ${pathOf(error.config?.url)}`;
  const reasons = ((error.response?.data as { errors?: Array<{ reason: string; field?: string }> } | undefined)?.errors ?? [])
    .map((e) => (e.field ? `${e.field}: ${e.reason}` : e.reason))
    .join("; ");
  const detail = reasons ? ` (${reasons})` : "";
  switch (status) {
    case undefined:
      return new LinodeApiError(`Linode API unreachable for ${where}: ${error.code ?? error.message}; check the network or LINODE_API_URL`, undefined);
    case 401:
      return new LinodeApiError(`LINODE_TOKEN was rejected (401)${detail}: it is expired, revoked or mistyped; create a new token and export LINODE_TOKEN`, 401);
    case 403:
      return new LinodeApiError(`LINODE_TOKEN may not ${where} (403)${detail}: give the token read/write scopes for Kubernetes, NodeBalancers, Linodes, Volumes and Firewalls`, 403);
    case 404:
      return new LinodeApiError(`Not found: ${where} (404)${detail}`, 404);
    case 429:
      return new LinodeApiError(`Linode API rate limit (429) on ${where} persisted through every retry; wait a minute and run again`, 429);
    default:
      if (status >= 500) return new LinodeApiError(`Linode API failed on ${where} (${status}) through every retry${detail}; see https://status.linode.com`, status);
      return new LinodeApiError(`Linode API refused ${where} (${status})${detail}`, status);
  }
}

/** Errors from @linode/api-v4 are LinodeApiError (HTTP) or APIError[] (its own payload validation). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map((e: { field?: string; reason?: string }) => (e.field ? `${e.field}: ${e.reason}` : e.reason)).join("; ");
  return String(error);
}
