import { AuditLog } from '../audit/audit.service.ts';
import { AccountRecoveryService } from '../auth/account-recovery.service.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/create-admin.ts';
import { PasswordHasher } from '../auth/password-hasher.ts';
import { openConfiguredDatabase } from '../composition/infrastructure.ts';
import type { Config } from '../config/config.ts';
import { DirectoryInUseError } from '../db/directory-lock.ts';
import { runOverDatabase } from './command-outcome.ts';
import { UserService } from '../users/user.service.ts';

/**
 * `intake reset-password --email <address>`: the way back into an account when the server
 * sends no e-mail. Sets the password read from the terminal or stdin and ends every session.
 */
export async function resetPasswordCommand(
  config: Config,
  options: { email: string | undefined; readPassword: () => Promise<string> },
): Promise<number> {
  if (!options.email || !/^[^@\s]+@[^@\s]+$/.test(options.email)) {
    console.error('intake reset-password: --email <address> is required.');
    return 2;
  }
  let database: Awaited<ReturnType<typeof openConfiguredDatabase>>;
  try {
    database = await openConfiguredDatabase(config);
  } catch (error) {
    if (error instanceof DirectoryInUseError) {
      console.error(
        `intake reset-password: the embedded database in ${config.dataDir} is held by a running Intake server (process ${error.holderPid}); stop it (Ctrl-C) and run this command again.`,
      );
      return 1;
    }
    throw error;
  }
  const email = options.email;
  return runOverDatabase('reset-password', database, async () => {
    await database.migrate();
    const users = new UserService(database.db);
    if (!(await users.findByEmail(email))) {
      console.error(`intake reset-password: no account has the address ${email}.`);
      return 1;
    }
    const password = await options.readPassword();
    if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
      console.error(`intake reset-password: the password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`);
      return 2;
    }
    const recovery = new AccountRecoveryService({
      db: database.db,
      users,
      passwords: new PasswordHasher(),
      // The operator's path needs neither a queue nor rate limits: these are never reached.
      queue: {
        enqueue: () => Promise.reject(new Error('reset-password queues nothing')),
      },
      rateLimiter: {
        consume: () => Promise.reject(new Error('reset-password counts nothing')),
        reset: () => Promise.resolve(),
      },
      config: config.auth,
      audit: new AuditLog(database.db),
      emailEnabled: config.email.smtpUrl !== undefined,
    });
    const id = await recovery.operatorResetPassword(email, password);
    console.log(`New password set for ${email} (${id}); every session of the account was signed out (API keys stay valid).`);
    return 0;
  });
}
