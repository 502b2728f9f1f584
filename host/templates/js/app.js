// The wflow task `{{name}}`: greets the name in its input.
//
// Input: {"name": "..."}. Output: {"greeting": "..."}. The greeting word
// comes from the flow parameter `greeting`.

import * as wflow from './sdk/wflow.js';

export const run = wflow.task((ctx, data) => {
  const name = typeof data?.name === 'string' ? data.name : '';
  if (name.trim() === '') {
    // Fatal: the same input would fail again. Throw wflow.Retryable for a
    // failure that a retry could help.
    throw new wflow.Fatal('input field `name` is empty; give a name to greet');
  }
  const word = ctx.param('greeting');
  wflow.info(`${ctx.task}: greeting ${name}`);
  return { greeting: `${word}, ${name}!` };
});
