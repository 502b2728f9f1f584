// Flights and mean delay per origin airport, as a wflow task in JavaScript.
//
// Input: a JSON array of flight rows with a string `origin` (an IATA code)
// and an integer `delay` in minutes; rows without both are skipped.
// Output: `{"origins": [{"origin": "ABQ", "flights": 12, "mean_delay": 4.58}, ...]}`,
// sorted by airport code, with the mean rounded to 2 decimals.

import * as wflow from '../../guest-sdk/js/wflow.js';

// Rounds half away from zero, as Rust's `f64::round` does, because
// `Math.round` rounds -12.5 to -12 and a mean such as -0.125 is exact.
function roundTo2(value) {
  return (Math.sign(value) * Math.round(Math.abs(value) * 100)) / 100 + 0;
}

// Orders strings by UTF-16 code units, not by locale, so that ASCII airport
// codes sort as a byte-wise sort would sort them.
function compareCodes(a, b) {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}

function describeJson(value) {
  if (value === null) {
    return 'null';
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export const run = wflow.task((ctx, rows) => {
  if (!Array.isArray(rows)) {
    throw new wflow.Fatal(`input must be a JSON array of flight rows, but it is ${describeJson(rows)}`);
  }

  const byOrigin = new Map();
  let flights = 0;
  for (const row of rows) {
    const usable =
      row !== null &&
      typeof row === 'object' &&
      typeof row.origin === 'string' &&
      row.origin !== '' &&
      Number.isInteger(row.delay);
    if (!usable) {
      continue;
    }
    const totals = byOrigin.get(row.origin) ?? { flights: 0, delay: 0 };
    totals.flights += 1;
    totals.delay += row.delay;
    byOrigin.set(row.origin, totals);
    flights += 1;
  }

  if (flights === 0) {
    throw new wflow.Fatal(
      `none of the ${rows.length} input rows has a non-empty string \`origin\` and an integer \`delay\``,
    );
  }
  const skipped = rows.length - flights;
  if (skipped > 0) {
    wflow.warn(`${ctx.task}: skipped ${skipped} rows without a string \`origin\` and an integer \`delay\``);
  }
  wflow.info(`${ctx.task}: ${flights} flights, ${byOrigin.size} airports`);

  const codes = [...byOrigin.keys()].sort(compareCodes);
  return {
    origins: codes.map((origin) => {
      const totals = byOrigin.get(origin);
      return { origin, flights: totals.flights, mean_delay: roundTo2(totals.delay / totals.flights) };
    }),
  };
});
