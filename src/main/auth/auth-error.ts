// A refused token or grant: 401 (who are you) or 403 (not allowed), with a message for the caller.
export class AuthError extends Error {
  constructor(message: string, readonly status: 401 | 403 = 401) {
    super(message);
  }
}
