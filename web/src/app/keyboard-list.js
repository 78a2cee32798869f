// A list of buttons that is one stop in the tab order (a roving tabindex): Tab reaches the first button, the
// arrow keys, Home and End move between the others.

/** Makes the buttons in ``list`` move with the keyboard; call the returned ``reset()`` after redrawing them. */
export function keyboardList(list) {
  list.addEventListener('keydown', (event) => {
    const buttons = [...list.querySelectorAll('button')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const next = {
      ArrowDown: Math.min(index + 1, buttons.length - 1),
      ArrowUp: Math.max(index - 1, 0),
      Home: 0,
      End: buttons.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    buttons[index].setAttribute('tabindex', '-1');
    buttons[next].setAttribute('tabindex', '0');
    buttons[next].focus();
  });
  return {
    reset() {
      const buttons = [...list.querySelectorAll('button')];
      buttons.forEach((button, index) => button.setAttribute('tabindex', index === 0 ? '0' : '-1'));
    },
  };
}
