import { isAppError } from '../errors/app-error.ts';

/**
 * Runs a command's body over an open database: a refusal from the service layer (an AppError)
 * becomes one line on stderr and exit code 2; anything else is a bug and propagates. The database
 * is closed either way.
 */
export async function runOverDatabase(
  command: string,
  database: { close(): Promise<void> },
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (isAppError(error)) {
      console.error(`intake ${command}: ${error.detail ?? error.title}`);
      return 2;
    }
    throw error;
  } finally {
    await database.close();
  }
}
