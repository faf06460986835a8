/** The admin console's entry: finds out whether the page is signed in, then shows sign-in or the console. */
import { render } from 'preact';
import { App } from './app.js';

render(<App />, document.getElementById('app')!);
