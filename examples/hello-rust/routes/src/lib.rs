//! Routes: the busiest origin-to-destination routes of a flights file.
//!
//! Input: a JSON array of flight rows with `origin`, `destination` and an
//! integer `delay`. Output: `{"routes": [{"route": "LAX-SFO", "flights": 9,
//! "max_delay": 41}, ...]}`, busiest first, ties by route. The parameter
//! `top` is how many routes are kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

#[derive(Deserialize)]
struct Flight {
    origin: String,
    destination: String,
    delay: i64,
}

#[derive(Serialize)]
struct Routes {
    routes: Vec<Route>,
}

#[derive(Serialize)]
struct Route {
    route: String,
    flights: u64,
    max_delay: i64,
}

fn routes(ctx: &Context, flights: Vec<Flight>) -> Result<Routes> {
    let top: i64 = ctx.param("top")?;
    if top < 1 {
        return Err(TaskError::fatal(format!("parameter `top` is {top}; give a number of routes from 1 up")));
    }
    if flights.is_empty() {
        return Err(TaskError::fatal("input has no flights; check the flights file"));
    }

    let mut by_route: BTreeMap<String, Route> = BTreeMap::new();
    for flight in &flights {
        let route = format!("{}-{}", flight.origin, flight.destination);
        let entry = by_route.entry(route.clone()).or_insert(Route { route, flights: 0, max_delay: i64::MIN });
        entry.flights += 1;
        entry.max_delay = entry.max_delay.max(flight.delay);
    }
    wflow_guest::info!("{}: {} flights on {} routes", ctx.task(), flights.len(), by_route.len());

    // The map is sorted by route, and the sort is stable, so ties keep that order.
    let mut routes: Vec<Route> = by_route.into_values().collect();
    routes.sort_by(|a, b| b.flights.cmp(&a.flights));
    routes.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    Ok(Routes { routes })
}

wflow_guest::task!(routes);
