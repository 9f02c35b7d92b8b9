//! This crate's own `servicetask` CLI: every command, with `reserve_stock` and `ship_order`.

fn main() {
    servicetask_cli::Cli::new().tasks(my_tasks::register).run()
}
