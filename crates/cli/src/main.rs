//! The stock `servicetask` binary: the CLI with the bundled example tasks (the demo's
//! pipeline, file processing, data analysis). Your own binary does the same with your tasks;
//! see the crate docs.

fn main() {
    servicetask_cli::Cli::new()
        .tasks(servicetask_examples::register_all)
        .run()
}
