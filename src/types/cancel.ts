/**
 * Client cancellation as the request path sees it. A front end makes one
 * `Cancellation` per call (or per stream) and cancels it when the client goes away;
 * the batcher listens on it while a request is queued.
 *
 * Why not AbortController/AbortSignal: they are EventTargets, and making one, adding
 * and removing a listener costs ~3 us per request, several percent of the main
 * thread at a small model's request rates. An AbortSignal still fits `CancelSignal`.
 */
export interface CancelListener { handleEvent(): void }

export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: CancelListener): void;
  removeEventListener(type: 'abort', listener: CancelListener): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  #listeners: CancelListener[] | undefined;

  addEventListener(_type: 'abort', listener: CancelListener): void {
    if (this.aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: CancelListener): void {
    const ls = this.#listeners;
    if (ls === undefined) return;
    const i = ls.indexOf(listener);
    if (i >= 0) ls.splice(i, 1);
  }

  /** Listeners registered now (tests check that the batcher removes its own). */
  get listenerCount(): number {
    return this.#listeners?.length ?? 0;
  }

  /** Mark cancelled and tell every listener once; later calls do nothing. */
  cancel(): void {
    if (this.aborted) return;
    this.aborted = true;
    const ls = this.#listeners;
    this.#listeners = undefined;
    if (ls !== undefined) for (const l of ls) l.handleEvent();
  }
}
