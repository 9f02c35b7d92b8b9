//! Panics without their payloads: a task's panic message may hold its input
//! (`panic!("bad {input:?}")`, `.unwrap()` of an error that names a value), so the runner records
//! only the panic's kind, and [`install_redacting_hook`] keeps the payload off stderr too.
//!
//! ```
//! use servicetask::panic::classify;
//! let payload = std::panic::catch_unwind(|| {
//!     let v: Vec<u8> = Vec::new();
//!     let i = std::hint::black_box(3);
//!     v[i]
//! })
//! .unwrap_err();
//! assert_eq!(classify(payload.as_ref()), "index out of bounds");
//! ```

use std::any::Any;

/// The kind of a panic from its payload, as a fixed phrase that never quotes the payload:
/// the standard library's and `core`'s own messages are recognised by their fixed parts.
pub fn classify(payload: &(dyn Any + Send)) -> &'static str {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    let Some(text) = text else {
        return "a panic with a non-text payload";
    };
    const KINDS: &[(&str, &str)] = &[
        ("attempt to divide by zero", "division by zero"),
        (
            "attempt to calculate the remainder with a divisor of zero",
            "division by zero",
        ),
        ("index out of bounds", "index out of bounds"),
        ("range end index", "slice range out of bounds"),
        ("range start index", "slice range out of bounds"),
        ("slice index starts at", "slice range out of bounds"),
        ("byte index", "string index out of bounds"),
        ("called `Option::unwrap()` on a `None` value", "unwrap of None"),
        ("called `Result::unwrap()` on an `Err` value", "unwrap of an Err"),
        ("called `Result::unwrap_err()` on an `Ok` value", "unwrap_err of an Ok"),
        ("explicit panic", "explicit panic"),
        ("not yet implemented", "todo!()"),
        ("not implemented", "unimplemented!()"),
        ("internal error: entered unreachable code", "unreachable code reached"),
        ("capacity overflow", "allocation too large"),
        ("assertion failed", "failed assertion"),
        ("assertion `left", "failed assertion"),
        ("already borrowed", "RefCell borrowed twice"),
        ("already mutably borrowed", "RefCell borrowed twice"),
        ("PoisonError", "poisoned lock"),
    ];
    if text.starts_with("attempt to ") && text.ends_with("with overflow") {
        return "arithmetic overflow";
    }
    KINDS
        .iter()
        .find(|(start, _)| text.starts_with(start))
        .map_or("a panic with a message", |(_, kind)| kind)
}

/// Replaces the process's panic hook with one that prints where a panic happened and its kind
/// (`thread 'main' panicked at src/task.rs:12:5: unwrap of an Err (message withheld)`), never
/// its payload. The `servicetask` CLI installs it; a program whose tasks' panic messages may
/// hold input should too. Backtraces (`RUST_BACKTRACE`) are not printed: frames are code
/// locations, but the hook keeps to one line.
pub fn install_redacting_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "an unknown location".into());
        eprintln!(
            "thread '{name}' panicked at {location}: {} (message withheld: it may hold input)",
            classify(info.payload())
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::classify;

    fn kind_of(f: impl FnOnce() + std::panic::UnwindSafe) -> &'static str {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let payload = std::panic::catch_unwind(f).unwrap_err();
        std::panic::set_hook(hook);
        classify(payload.as_ref())
    }

    #[test]
    fn standard_panics_are_classified_without_their_text() {
        let secret = "canary-7f3a";
        assert_eq!(kind_of(|| panic!("leaked {secret}")), "a panic with a message");
        assert_eq!(
            kind_of(|| {
                let r: Result<(), String> = std::hint::black_box(Err(secret.to_string()));
                r.unwrap()
            }),
            "unwrap of an Err"
        );
        assert_eq!(
            kind_of(|| {
                let a = std::hint::black_box(i64::MIN);
                let _ = a / std::hint::black_box(-1);
            }),
            "arithmetic overflow"
        );
        assert_eq!(
            kind_of(|| {
                let o: Option<u8> = std::hint::black_box(None);
                o.unwrap();
            }),
            "unwrap of None"
        );
        assert_eq!(
            kind_of(|| std::panic::panic_any(7_u8)),
            "a panic with a non-text payload"
        );
        assert_eq!(kind_of(|| assert_eq!(std::hint::black_box(1), 2)), "failed assertion");
    }
}
