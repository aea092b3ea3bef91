/** The one retry helper: exponential backoff with full jitter, for errors `retryable` accepts. */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: { attempts: number; baseDelayMs: number; maxDelayMs?: number; retryable: (error: unknown) => boolean },
): Promise<T> {
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !options.retryable(error)) throw error;
      const ceiling = Math.min(maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
