// Appended to three.min.js (an IIFE that defines DescentTHREE) by
// app/race_component.py: publishes the library once per page for the 3-D
// view (view3d.js), which waits for the "descent-three" event if it mounts first.
globalThis.DescentTHREE ??= DescentTHREE;
globalThis.dispatchEvent(new Event("descent-three"));

export default function mountThree() {
  return undefined;
}
