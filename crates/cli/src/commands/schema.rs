//! `servicetask schema` and `servicetask tasks`: what the registered tasks take and how they are
//! configured.

use anyhow::bail;
use servicetask::{Runner, Telemetry};

use super::exit;
use crate::flags::SchemaArgs;
use crate::Tasks;

fn runner(tasks: &Tasks) -> anyhow::Result<Runner> {
    let runner = Runner::builder().telemetry(Telemetry::disabled()).build();
    tasks.register_into(&runner)?;
    Ok(runner)
}

/// `schema [TASK]`.
pub fn schema(args: &SchemaArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    let runner = runner(tasks)?;
    let names = match &args.task {
        Some(t) if runner.task(t).is_none() => {
            bail!("no task named '{t}'; registered: {}", runner.task_names().join(", "))
        }
        Some(t) => vec![t.clone()],
        None => runner.task_names(),
    };
    let schemas: Vec<serde_json::Value> = names
        .iter()
        .filter_map(|n| runner.task(n))
        .map(|t| t.schema())
        .collect();
    let out = if schemas.len() == 1 {
        schemas[0].clone()
    } else {
        serde_json::Value::Array(schemas)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(exit::OK)
}

/// `tasks`.
pub fn tasks(tasks: &Tasks) -> anyhow::Result<i32> {
    let runner = runner(tasks)?;
    for name in runner.task_names() {
        let Some(t) = runner.task(&name) else { continue };
        let c = t.config();
        println!("{name}: {}", c.description.as_deref().unwrap_or(""));
        println!(
            "    attempts {}, timeout {}, breaker {}, bulkhead {}",
            c.retry.max_attempts,
            c.timeout
                .total
                .map(|d| format!("{d:?}"))
                .unwrap_or_else(|| "none".into()),
            if c.breaker.is_some() { "on" } else { "off" },
            c.bulkhead
                .as_ref()
                .map(|b| b.max_concurrent.to_string())
                .unwrap_or_else(|| "off".into()),
        );
    }
    Ok(exit::OK)
}
