/** The web app: sign in with an API token, then projects → datasets → change requests, and experiments. */
import { render } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { signOut, token } from './api'
import { Toasts } from './components'
import { ChangeRequestPage } from './pages/change-request'
import { DatasetPage } from './pages/dataset'
import { ExperimentsPage } from './pages/experiments'
import { ProjectPage } from './pages/project'
import { ProjectsPage } from './pages/projects'
import { SignIn } from './pages/sign-in'
import { href, type Route, useRoute } from './router'
import './style.css'

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'projects':
      return <ProjectsPage />
    case 'project':
      return <ProjectPage pid={route.pid} />
    case 'dataset':
      return <DatasetPage did={route.did} />
    case 'change-request':
      return <ChangeRequestPage id={route.cr} tab={route.tab} />
    case 'experiments':
      return <ExperimentsPage />
  }
}

function App() {
  const [signedIn, setSignedIn] = useState(() => token() !== null)
  const route = useRoute()
  // A new page starts keyboard focus at its content (the link that led here is gone).
  const main = useRef<HTMLElement>(null)
  const page = route.page === 'change-request' ? `${route.page} ${route.cr}` : JSON.stringify(route)
  const shown = useRef(page)
  useEffect(() => {
    if (shown.current !== page) main.current?.focus()
    shown.current = page
  }, [page])
  return (
    <>
      <header class="top">
        <a class="brand" href={href()}>
          duckmerge
        </a>
        {signedIn && (
          <nav aria-label="Main">
            <a href={href()}>Projects</a>
            <a href={href('experiments')}>Experiments</a>
            <button
              type="button"
              class="link"
              onClick={() => {
                signOut()
                setSignedIn(false)
              }}
            >
              Sign out
            </button>
          </nav>
        )}
      </header>
      <main ref={main} tabIndex={-1}>
        {signedIn ? <Page route={route} /> : <SignIn onSignedIn={() => setSignedIn(true)} />}
      </main>
      <Toasts />
    </>
  )
}

render(<App />, document.getElementById('app') as HTMLElement)
