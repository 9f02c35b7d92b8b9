//! A new user's tasks: reserve stock for an order, ship it, or apologise when it cannot be
//! reserved. `register` puts them on a runner; `main.rs` makes them the whole `servicetask`
//! CLI; `tests/` tries the process's paths with scenarios and mocks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use servicetask::{service_task, Runner, TaskContext, TaskError, TaskInput};

/// Input of `reserve_stock`: what the order asks for.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct Order {
    /// The article.
    #[task(non_empty)]
    pub sku: String,
    /// How many.
    #[task(min = 1)]
    pub quantity: u32,
}

/// Output of `reserve_stock`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Reservation {
    /// The reservation's id.
    pub reservation: String,
}

/// What the warehouse holds (a real task would ask a service).
fn stock(sku: &str) -> u32 {
    match sku {
        "A-1" => 10,
        "B-2" => 1,
        _ => 0,
    }
}

/// Reserves the ordered quantity, or throws BPMN error `OUT_OF_STOCK`.
#[service_task(name = "reserve_stock", retry(max_attempts = 3), timeout(total = "5s"))]
pub async fn reserve_stock(cx: &TaskContext, input: Order) -> Result<Reservation, TaskError> {
    if stock(&input.sku) < input.quantity {
        return Err(cx.bpmn_error(
            "OUT_OF_STOCK",
            format!("only {} of {} left", stock(&input.sku), input.sku),
        ));
    }
    Ok(Reservation {
        reservation: format!("R-{}-{}", input.sku, input.quantity),
    })
}

/// Input of `ship_order`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, TaskInput)]
pub struct Shipment {
    /// The reservation to ship.
    #[task(non_empty)]
    pub reservation: String,
}

/// Output of `ship_order`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Shipped {
    /// The parcel's tracking number.
    pub tracking: String,
}

/// Ships a reservation.
#[service_task(name = "ship_order", retry(max_attempts = 4), timeout(total = "30s"))]
pub async fn ship_order(_cx: &TaskContext, input: Shipment) -> Result<Shipped, TaskError> {
    Ok(Shipped {
        tracking: format!("T-{}", input.reservation.trim_start_matches("R-")),
    })
}

/// Registers every task of this crate.
pub fn register(runner: &Runner) -> Result<(), servicetask::ConfigError> {
    runner.register(ReserveStockTask)?;
    runner.register(ShipOrderTask)?;
    Ok(())
}
