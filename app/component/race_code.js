// Appended to the animator's bundle (race.js and what it imports, its default
// export made local) by app/race_component.py: the element `_RACE_CODE`, whose
// message never changes, so Streamlit sends the code once per browser session
// and not with every race. Publishes the animator as globalThis.DescentRace;
// race_mount.js, the race element's own small module, waits for it.

globalThis.DescentRace = mountRace;
globalThis.dispatchEvent(new Event("descent-race"));

export default function mountRaceCode() {
  return undefined;
}
