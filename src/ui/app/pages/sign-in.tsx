import { useState } from 'preact/hooks'
import { get, signIn, signOut } from '../api'
import { ErrorText } from '../components'

/** Checks the token against the API before keeping it, so a typo is told at once. */
export function SignIn({ onSignedIn }: { onSignedIn(): void }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  async function submit(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    signIn(value)
    try {
      await get('projects')
      onSignedIn()
    } catch (err) {
      signOut()
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <p class="muted">
        Create a token with <code>npx duckmerge token create --user NAME</code>. It is kept in this
        tab only.
      </p>
      <form onSubmit={submit}>
        <label>
          API token
          <input
            type="password"
            autocomplete="off"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy || value.trim() === ''}>
          Sign in
        </button>
      </form>
      <ErrorText error={error} />
    </section>
  )
}
