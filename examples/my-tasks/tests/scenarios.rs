//! A process test in `cargo test`, as the README shows it.

use servicetask_cli::{mock::Mock, scenario::Scenario, Tasks};

#[tokio::test]
async fn out_of_stock_ends_with_an_apology() {
    let tasks = Tasks::new().with(my_tasks::register);
    Scenario::new("out of stock")
        .var("sku", "A-1")
        .var("quantity", 2)
        .mock("reserve_stock", Mock::bpmn_error("OUT_OF_STOCK"))
        .expect_path(["start", "no_stock", "apologise", "sorry"])
        .check("processes/order.bpmn", &tasks)
        .await
        .unwrap();
}
