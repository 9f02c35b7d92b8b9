//! Tracking in one page: run a task that reads a file, burns CPU and allocates, through the
//! tracking layer, and print what its execution consumed.
//!
//! Run: `cargo run -p servicetask-tracking --example tracking --features alloc-counter`
//! (without the feature, memory is reported as process RSS).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use servicetask_core::layer::{AttemptResult, BoxFuture, Invoke, Layer, Next, TaskValue};
use servicetask_core::{TaskContext, TrackedPath, TrackingConfig};
use servicetask_tracking::{cpu_split, inspect_input_paths, span_attributes, TrackingLayer};

#[cfg(feature = "alloc-counter")]
#[global_allocator]
static A: servicetask_tracking::CountingAllocator = servicetask_tracking::CountingAllocator::system();

/// The task: read a file, sum its bytes a few times, keep a copy.
struct Checksum(std::path::PathBuf);

impl Invoke for Checksum {
    fn invoke<'a>(&'a self, cx: &'a TaskContext) -> BoxFuture<'a, AttemptResult> {
        Box::pin(async move {
            let data = cx.fs().read(&self.0).await?;
            let mut sum = 0u64;
            for round in 0..20u64 {
                sum = data
                    .iter()
                    .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b) + round));
                tokio::task::yield_now().await;
            }
            let copy = data.clone();
            cx.fs().write(self.0.with_extension("sum"), sum.to_string()).await?;
            drop(copy);
            Ok(Box::new(sum) as TaskValue)
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("st-tracking-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("input.bin");
    std::fs::write(&input, vec![42u8; 4 << 20])?;

    let tracking = TrackingConfig::default();
    let layers: Vec<Arc<dyn Layer>> = vec![Arc::new(TrackingLayer::new(&tracking))];
    let cx = TaskContext::detached("checksum");

    // What the runner does before the task body: inspect the input's path fields.
    inspect_input_paths(
        &cx,
        &[TrackedPath {
            field: "input",
            path: input.clone(),
            required: true,
            sensitive: false,
        }],
    )?;
    let sum = Next::new(&layers, &Checksum(input)).run(&cx).await?;
    println!("checksum: {}", sum.downcast::<u64>().map(|s| *s).unwrap_or_default());

    let s = cx.stats();
    println!("cpu: {:.2} ms", s.cpu_ns.load(Ordering::Relaxed) as f64 / 1e6);
    if let Some((user, system)) = cpu_split(s) {
        println!(
            "  user {:.2} ms, system {:.2} ms",
            user as f64 / 1e6,
            system as f64 / 1e6
        );
    }
    let scope = if s.mem_process_wide.load(Ordering::Relaxed) {
        "process RSS"
    } else {
        "execution"
    };
    println!(
        "memory peak ({scope}): {} KiB",
        s.mem_peak.load(Ordering::Relaxed) / 1024
    );
    println!(
        "tracked bytes: read {} written {}",
        s.bytes_read.load(Ordering::Relaxed),
        s.bytes_written.load(Ordering::Relaxed)
    );
    println!(
        "block I/O: read {} written {} bytes",
        s.disk_read_bytes.load(Ordering::Relaxed),
        s.disk_write_bytes.load(Ordering::Relaxed)
    );
    for f in s.files() {
        println!("  {:?} {} ({} ops, {} bytes)", f.kind, f.path, f.ops, f.bytes);
    }
    println!("span attributes: {:?}", span_attributes(&cx));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
