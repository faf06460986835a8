/** The sign-in form of Parley's web apps: address and password, the server's refusal shown as an alert. */
import { useState } from 'preact/hooks';
import { messageOf, signIn, type WebIdentity } from './web-session.js';

/** A sign-in page; `onSignedIn` gets the new web session; `notice` says why the page is here (signed out by the server). */
export function SignIn({ title, onSignedIn, notice = null }: { title: string; onSignedIn: (id: WebIdentity) => void; notice?: string | null }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(String(f.get('address')), String(f.get('password'))));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">{title}</h1>
        {notice !== null && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="address">Address</label>
        <input id="address" name="address" type="text" autocomplete="username" required placeholder="name@company.com" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
