//! The configuration sections `#[service_task(...)]` accepts, with the keys of the
//! `servicetask.toml` tables of the same names: `retry(max_attempts = 4, initial_delay =
//! "100ms")` is `[tasks.x.retry] max_attempts = 4, initial_delay = "100ms"`. Each key's value is
//! checked at compile time (an error points at it) and becomes one field assignment on the
//! generated `TaskConfig`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::{LitInt, LitStr};

use crate::service_task::{core_path, duration};

/// What a key's value is.
enum Kind {
    /// An integer of at least 1.
    Count,
    /// An integer of at least 0.
    U32,
    /// A percentage above 0 and at most 100.
    Percent,
    /// A number of at least 1.0.
    Multiplier,
    /// A fraction from 0 to 1.
    Fraction,
    /// `"250ms"`, `"30s"`.
    Duration,
    /// A duration that may be unset (`Option<Duration>`).
    OptDuration,
    /// `true` or `false`.
    Bool,
    /// One of the values of a core enum (its serde names, snake_case of the variants).
    Enum(&'static str, &'static [&'static str]),
    /// `["timeout", "network"]`: error classes (`ErrorClass`'s serde names).
    Classes,
    /// A nested optional table.
    Table(&'static Section),
}

struct Key {
    name: &'static str,
    kind: Kind,
}

/// One table of `TaskConfig`: its field, whether it is optional (`Option<..>`), its keys.
pub(crate) struct Section {
    pub(crate) name: &'static str,
    optional: bool,
    keys: &'static [Key],
}

const fn key(name: &'static str, kind: Kind) -> Key {
    Key { name, kind }
}

const BUDGET: Section = Section {
    name: "budget",
    optional: true,
    keys: &[
        key("ratio", Kind::Fraction),
        key("window", Kind::Duration),
        key("min_per_second", Kind::U32),
    ],
};

/// Every section the attribute accepts, in the order of `TaskConfig`'s fields.
pub(crate) const SECTIONS: &[Section] = &[
    Section {
        name: "retry",
        optional: false,
        keys: &[
            key("max_attempts", Kind::Count),
            key("max_elapsed", Kind::OptDuration),
            key("initial_delay", Kind::Duration),
            key("max_delay", Kind::Duration),
            key("multiplier", Kind::Multiplier),
            key("jitter", Kind::Enum("Jitter", &["full", "decorrelated", "none"])),
            key("retry_on", Kind::Classes),
            key("mode", Kind::Enum("RetryMode", &["in_process", "engine"])),
            key("budget", Kind::Table(&BUDGET)),
        ],
    },
    Section {
        name: "timeout",
        optional: false,
        keys: &[key("attempt", Kind::OptDuration), key("total", Kind::OptDuration)],
    },
    Section {
        name: "breaker",
        optional: true,
        keys: &[
            key("window", Kind::Enum("WindowKind", &["count_based", "time_based"])),
            key("window_size", Kind::Count),
            key("failure_rate_threshold", Kind::Percent),
            key("slow_call_rate_threshold", Kind::Percent),
            key("slow_call_duration", Kind::Duration),
            key("minimum_calls", Kind::Count),
            key("permitted_calls_in_half_open", Kind::Count),
            key("wait_in_open", Kind::Duration),
            key("max_wait_in_half_open", Kind::OptDuration),
        ],
    },
    Section {
        name: "bulkhead",
        optional: true,
        keys: &[key("max_concurrent", Kind::Count), key("max_wait", Kind::Duration)],
    },
    Section {
        name: "tracking",
        optional: false,
        keys: &[
            key("cpu", Kind::Bool),
            key("memory", Kind::Bool),
            key("process_rss", Kind::Bool),
            key("disk_io", Kind::Bool),
            key("files", Kind::Bool),
            key("dependencies", Kind::Bool),
            key("max_file_events", Kind::U32),
        ],
    },
];

/// The section named `name`, if the attribute has one.
pub(crate) fn find(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Breaker keys of older releases, and what the file calls them.
const RENAMED: &[(&str, &str)] = &[
    ("failure_rate", "failure_rate_threshold"),
    ("slow_call_rate", "slow_call_rate_threshold"),
    ("slow_call", "slow_call_duration"),
    ("wait", "wait_in_open"),
    ("probes", "permitted_calls_in_half_open"),
    ("max_half_open", "max_wait_in_half_open"),
    ("time_based", "window = \"time_based\""),
];

/// Parses `name` or `name(key = value, ...)` into statements that set the section on `c`
/// (a `TaskConfig`).
pub(crate) fn parse(meta: &ParseNestedMeta<'_>, section: &'static Section) -> syn::Result<TokenStream> {
    let field = format_ident!("{}", section.name);
    parse_into(meta, section, quote!(c.#field))
}

fn parse_into(meta: &ParseNestedMeta<'_>, section: &'static Section, place: TokenStream) -> syn::Result<TokenStream> {
    let slot = if section.optional {
        quote!(let s = #place.get_or_insert_with(::core::default::Default::default);)
    } else {
        quote!(let s = &mut #place;)
    };
    if !meta.input.peek(syn::token::Paren) {
        if section.optional {
            // a bare `breaker`: the section with its defaults
            return Ok(quote!({ #slot let _ = s; }));
        }
        return Err(meta.error(format!(
            "`{}` takes keys, like `{}({} = ...)`",
            section.name, section.name, section.keys[0].name
        )));
    }
    let mut sets = Vec::new();
    meta.parse_nested_meta(|m| {
        let k = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        let Some(key) = section.keys.iter().find(|key| key.name == k) else {
            let known: Vec<&str> = section.keys.iter().map(|k| k.name).collect();
            return Err(
                match RENAMED.iter().find(|(old, _)| *old == k && section.name == "breaker") {
                    Some((_, new)) => m.error(format!(
                        "`{k}` is now `{new}`: the same key as in servicetask.toml and SERVICETASK__ variables"
                    )),
                    None => m.error(format!(
                        "unknown key in `{}(...)`; known here: {} (the keys of [tasks.<name>.{}] in servicetask.toml)",
                        section.name,
                        known.join(", "),
                        section.name
                    )),
                },
            );
        };
        let field = format_ident!("{}", key.name);
        sets.push(value(&m, key, &field)?);
        Ok(())
    })?;
    Ok(quote!({ #slot #(#sets)* }))
}

fn value(m: &ParseNestedMeta<'_>, key: &Key, field: &syn::Ident) -> syn::Result<TokenStream> {
    let core = core_path();
    let nanos = |ns: u64| quote!(::std::time::Duration::from_nanos(#ns));
    Ok(match &key.kind {
        Kind::Count | Kind::U32 => {
            let v: LitInt = m.value()?.parse()?;
            let n: u32 = v.base10_parse()?;
            if n == 0 && matches!(key.kind, Kind::Count) {
                return Err(syn::Error::new(v.span(), "must be at least 1"));
            }
            quote!(s.#field = #n;)
        }
        Kind::Percent | Kind::Multiplier | Kind::Fraction => {
            let lit: syn::Lit = m.value()?.parse()?;
            let v = match &lit {
                syn::Lit::Int(i) => i.base10_parse::<f64>()?,
                syn::Lit::Float(f) => f.base10_parse::<f64>()?,
                other => return Err(syn::Error::new(other.span(), "expected a number")),
            };
            let (ok, allowed) = match key.kind {
                Kind::Percent => (v > 0.0 && v <= 100.0, "a percentage above 0 and at most 100"),
                Kind::Multiplier => (v >= 1.0, "a number of at least 1.0"),
                _ => ((0.0..=1.0).contains(&v), "a fraction from 0 to 1"),
            };
            if !ok {
                return Err(syn::Error::new(lit.span(), format!("out of range; use {allowed}")));
            }
            quote!(s.#field = #v;)
        }
        Kind::Duration | Kind::OptDuration => {
            let lit: LitStr = m.value()?.parse()?;
            let d = nanos(duration(&lit)?);
            if matches!(key.kind, Kind::Duration) {
                quote!(s.#field = #d;)
            } else {
                quote!(s.#field = ::core::option::Option::Some(#d);)
            }
        }
        Kind::Bool => {
            let v: syn::LitBool = m.value()?.parse()?;
            quote!(s.#field = #v;)
        }
        Kind::Enum(ty, values) => {
            let lit: LitStr = m.value()?.parse()?;
            if !values.contains(&lit.value().as_str()) {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("`{}` is one of: {}", key.name, quoted(values)),
                ));
            }
            let ty = format_ident!("{}", ty);
            let variant = format_ident!("{}", camel(&lit.value()));
            quote!(s.#field = #core::#ty::#variant;)
        }
        Kind::Classes => {
            let list: syn::ExprArray = m.value()?.parse()?;
            let mut classes = Vec::new();
            for e in &list.elems {
                let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s), ..
                }) = e
                else {
                    return Err(syn::Error::new_spanned(e, "an error class name, like \"timeout\""));
                };
                // a wrong name is a compile error at the string: no variant `..` of `ErrorClass`
                let variant = syn::Ident::new(&camel(&s.value()), s.span());
                classes.push(quote_spanned!(s.span()=> #core::ErrorClass::#variant));
            }
            quote!(s.#field = ::core::option::Option::Some(::std::vec![#(#classes),*]);)
        }
        Kind::Table(inner) => parse_into(m, inner, quote!(s.#field))?,
    })
}

fn quoted(values: &[&str]) -> String {
    values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
}

/// `bulkhead_full` -> `BulkheadFull`.
pub(crate) fn camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A compile-time deprecation warning at `span`: the generated code uses a deprecated item
/// named after the old key, so the compiler prints `note` where the key is written.
pub(crate) fn deprecation(span: Span, old: &str, note: &str) -> TokenStream {
    let name = format_ident!("{}", old, span = span);
    quote_spanned!(span=>
        const _: () = {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const #name: () = ();
            #name
        };
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The attribute's expansion as text: a `compile_error!` carries its message.
    fn expand(args: proc_macro2::TokenStream) -> String {
        let item = quote!(
            async fn t(_cx: &TaskContext, _input: ()) -> Result<(), TaskError> {
                Ok(())
            }
        );
        crate::service_task::expand(args, item).to_string()
    }

    #[test]
    fn an_unknown_key_lists_the_keys_of_its_table() {
        let out = expand(quote!(name = "t", retry(max_atempts = 3)));
        assert!(out.contains("compile_error"), "{out}");
        assert!(
            out.contains("unknown key in `retry(...)`; known here: max_attempts, max_elapsed"),
            "{out}"
        );
        let out = expand(quote!(name = "t", timeout(totl = "1s")));
        assert!(out.contains("known here: attempt, total"), "{out}");
        let out = expand(quote!(name = "t", retries_left = 3));
        assert!(out.contains("unknown key; use name, description, retry(...)"), "{out}");
    }

    #[test]
    fn values_are_checked_where_they_are_written() {
        for (args, message) in [
            (quote!(name = "t", retry(max_attempts = 0)), "must be at least 1"),
            (quote!(name = "t", retry(multiplier = 0.5)), "a number of at least 1.0"),
            (quote!(name = "t", retry(budget(ratio = 2))), "a fraction from 0 to 1"),
            (
                quote!(name = "t", retry(jitter = "some")),
                "`jitter` is one of: \\\"full\\\"",
            ),
            (quote!(name = "t", timeout(total = "soon")), "not a duration"),
            (
                quote!(name = "t", breaker(failure_rate_threshold = 150)),
                "a percentage above 0",
            ),
            (quote!(name = "t", breaker(wait = "1s")), "`wait` is now `wait_in_open`"),
            (quote!(name = "t", tracking(cpu = 1)), "expected boolean literal"),
            (quote!(name = "t", retry), "`retry` takes keys"),
        ] {
            let out = expand(args.clone());
            assert!(
                out.contains("compile_error") && out.contains(message),
                "{args} should say {message}: {out}"
            );
        }
    }

    #[test]
    fn old_shorthands_expand_with_a_deprecation_that_names_the_new_key() {
        let out = expand(quote!(name = "t", retries = 2, backoff = "10ms", bulkhead = 3));
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("deprecated"), "{out}");
        assert!(out.contains("write `retry(max_attempts = 3)`"), "{out}");
        assert!(out.contains("write `retry(initial_delay = ..)`"), "{out}");
        assert!(out.contains("write `bulkhead(max_concurrent = 3)`"), "{out}");
        let out = expand(quote!(name = "t", retry(max_attempts = 3), timeout(total = "1s")));
        assert!(!out.contains("deprecated"), "{out}");
    }
}
