// The race element's own module: mounts the animator (race.js, published as
// globalThis.DescentRace by the element `_RACE_CODE`, see race_code.js) on
// this element with its data. On a first load the code may arrive after the
// race: then it waits for it.

const READY = "descent-race";

export default function mountRaceElement(component) {
  if (globalThis.DescentRace) return globalThis.DescentRace(component);
  let cleanup;
  let ended = false;
  const go = () => {
    if (!ended) cleanup = globalThis.DescentRace(component);
  };
  globalThis.addEventListener(READY, go, { once: true });
  return () => {
    ended = true;
    globalThis.removeEventListener(READY, go);
    cleanup?.();
  };
}
