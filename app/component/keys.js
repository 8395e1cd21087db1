// Keyboard shortcuts: space plays or pauses, left/right step, Home restarts, End jumps to the end.

// The timeline action a key asks for, or null.
export function keyAction(e, timeline) {
  switch (e.key) {
    case " ":
    case "Spacebar":
      return () => timeline.setPlaying(!timeline.playing);
    case "ArrowLeft":
      return () => timeline.stepBy(-1);
    case "ArrowRight":
      return () => timeline.stepBy(1);
    case "Home":
      return () => timeline.restart();
    case "End":
      return () => timeline.toEnd();
    default:
      return null;
  }
}

// Whether the element takes typed text (so a page-wide shortcut must leave its keys alone).
export function isTyping(el) {
  if (!el || el.nodeType !== 1) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") return !["checkbox", "radio", "button", "submit", "reset"].includes(el.type);
  return false;
}

// Whether space or an arrow key already does something on the element.
export function isActivatable(el) {
  if (!el || el.nodeType !== 1) return false;
  const tag = el.tagName;
  if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY" || tag === "INPUT") return true;
  const role = el.getAttribute("role");
  return ["button", "slider", "checkbox", "switch", "tab", "option", "link", "menuitem", "radio", "spinbutton"].includes(role);
}
