import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { paths } from './api/schema';

export type Me = paths['/api/v1/users/me']['get']['responses'][200]['content']['application/json'];

export interface SessionState {
  me: Me;
  setMe(me: Me): void;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
