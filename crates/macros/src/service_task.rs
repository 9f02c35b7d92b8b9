//! `#[service_task(...)]`: parse the attribute into a config description, then generate either
//! a unit struct implementing `ServiceTask` around an async fn, or the `config` method of an
//! `impl ServiceTask` block.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::parse::Parser;
use syn::{FnArg, GenericArgument, ItemFn, ItemImpl, LitInt, LitStr, PathArguments, ReturnType, Type};

#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    description: Option<LitStr>,
    retries: Option<LitInt>,
    timeout: Option<(LitStr, u64)>,
    attempt_timeout: Option<(LitStr, u64)>,
    backoff: Option<(LitStr, u64)>,
    max_backoff: Option<(LitStr, u64)>,
    jitter: Option<TokenStream>,
    retry_mode: Option<TokenStream>,
    breaker: Option<Vec<TokenStream>>,
    bulkhead: Option<LitInt>,
    attributes: Vec<(LitStr, LitStr)>,
    type_name: Option<LitStr>,
}

/// The breaker's keys: the fields of `BreakerConfig`, as in `servicetask.toml`.
const BREAKER_KEYS: &str = "failure_rate_threshold, slow_call_rate_threshold, slow_call_duration, minimum_calls, window (\"count_based\" or \"time_based\"), window_size, permitted_calls_in_half_open, wait_in_open, max_wait_in_half_open";

fn duration(lit: &LitStr) -> syn::Result<u64> {
    humantime::parse_duration(&lit.value())
        .map(|d| d.as_nanos() as u64)
        .map_err(|e| {
            syn::Error::new(
                lit.span(),
                format!("not a duration ({e}); write it like \"250ms\", \"30s\" or \"5m\""),
            )
        })
}

fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let mut a = Args::default();
    let core = core_path();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        match key.as_str() {
            "name" => a.name = Some(meta.value()?.parse()?),
            "description" => a.description = Some(meta.value()?.parse()?),
            "retries" => a.retries = Some(meta.value()?.parse()?),
            "timeout" | "attempt_timeout" | "backoff" | "max_backoff" => {
                let lit: LitStr = meta.value()?.parse()?;
                let d = duration(&lit)?;
                let slot = match key.as_str() {
                    "timeout" => &mut a.timeout,
                    "attempt_timeout" => &mut a.attempt_timeout,
                    "backoff" => &mut a.backoff,
                    _ => &mut a.max_backoff,
                };
                *slot = Some((lit, d));
            }
            "jitter" => {
                let lit: LitStr = meta.value()?.parse()?;
                a.jitter = Some(match lit.value().as_str() {
                    "full" => quote!(#core::Jitter::Full),
                    "decorrelated" => quote!(#core::Jitter::Decorrelated),
                    "none" => quote!(#core::Jitter::None),
                    _ => return Err(syn::Error::new(lit.span(), "jitter must be \"full\", \"decorrelated\" or \"none\"")),
                });
            }
            "retry_mode" => {
                let lit: LitStr = meta.value()?.parse()?;
                a.retry_mode = Some(match lit.value().as_str() {
                    "in_process" => quote!(#core::RetryMode::InProcess),
                    "engine" => quote!(#core::RetryMode::Engine),
                    _ => return Err(syn::Error::new(lit.span(), "retry_mode must be \"in_process\" or \"engine\"")),
                });
            }
            "bulkhead" => a.bulkhead = Some(meta.value()?.parse()?),
            "type_name" => a.type_name = Some(meta.value()?.parse()?),
            "breaker" => {
                let mut sets = Vec::new();
                if meta.input.peek(syn::token::Paren) {
                    meta.parse_nested_meta(|m| {
                        let k = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                        let set = match k.as_str() {
                            "failure_rate_threshold" | "slow_call_rate_threshold" => {
                                let v: syn::Lit = m.value()?.parse()?;
                                let v = match v {
                                    syn::Lit::Int(i) => i.base10_parse::<f64>()?,
                                    syn::Lit::Float(f) => f.base10_parse::<f64>()?,
                                    other => return Err(syn::Error::new(other.span(), "expected a number from 0 to 100")),
                                };
                                if !(v > 0.0 && v <= 100.0) {
                                    return Err(m.error("a rate is a percentage above 0 and at most 100"));
                                }
                                let field = format_ident!("{}", k);
                                quote!(b.#field = #v;)
                            }
                            "minimum_calls" | "window_size" | "permitted_calls_in_half_open" => {
                                let v: LitInt = m.value()?.parse()?;
                                let n: u32 = v.base10_parse()?;
                                if n == 0 {
                                    return Err(syn::Error::new(v.span(), "must be at least 1"));
                                }
                                let field = format_ident!("{}", k);
                                quote!(b.#field = #n;)
                            }
                            "wait_in_open" | "slow_call_duration" | "max_wait_in_half_open" => {
                                let lit: LitStr = m.value()?.parse()?;
                                let d = duration(&lit)?;
                                match k.as_str() {
                                    "wait_in_open" => quote!(b.wait_in_open = ::std::time::Duration::from_nanos(#d);),
                                    "slow_call_duration" => quote!(b.slow_call_duration = ::std::time::Duration::from_nanos(#d);),
                                    _ => quote!(b.max_wait_in_half_open = ::core::option::Option::Some(::std::time::Duration::from_nanos(#d));),
                                }
                            }
                            "window" => {
                                let lit: LitStr = m.value().and_then(|v| v.parse()).map_err(|_| {
                                    m.error("`window` is the window's kind: \"count_based\" or \"time_based\" (its size is `window_size`)")
                                })?;
                                match lit.value().as_str() {
                                    "count_based" => quote!(b.window = #core::WindowKind::CountBased;),
                                    "time_based" => quote!(b.window = #core::WindowKind::TimeBased;),
                                    _ => return Err(syn::Error::new(lit.span(), "`window` is \"count_based\" or \"time_based\"")),
                                }
                            }
                            _ => {
                                let renamed = match k.as_str() {
                                    "failure_rate" => Some("failure_rate_threshold"),
                                    "slow_call_rate" => Some("slow_call_rate_threshold"),
                                    "slow_call" => Some("slow_call_duration"),
                                    "wait" => Some("wait_in_open"),
                                    "probes" => Some("permitted_calls_in_half_open"),
                                    "max_half_open" => Some("max_wait_in_half_open"),
                                    "time_based" => Some("window = \"time_based\""),
                                    _ => None,
                                };
                                return Err(match renamed {
                                    Some(new) => m.error(format!("`{k}` is now `{new}`: the same key as in servicetask.toml and SERVICETASK__ variables")),
                                    None => m.error(format!("unknown breaker key; use {BREAKER_KEYS}")),
                                });
                            }
                        };
                        sets.push(set);
                        Ok(())
                    })?;
                }
                a.breaker = Some(sets);
            }
            "attributes" => {
                meta.parse_nested_meta(|m| {
                    let key = m.path.to_token_stream().to_string().replace(' ', "");
                    let value: LitStr = m.value()?.parse()?;
                    a.attributes.push((LitStr::new(&key, Span::call_site()), value));
                    Ok(())
                })?;
            }
            _ => {
                return Err(meta.error(
                    "unknown key; use name, description, retries, timeout, attempt_timeout, backoff, max_backoff, jitter, retry_mode, breaker, bulkhead, attributes, type_name",
                ))
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    Ok(a)
}

fn core_path() -> TokenStream {
    quote!(::servicetask::__private::servicetask_core)
}

fn config_body(a: &Args) -> syn::Result<TokenStream> {
    let core = core_path();
    let name = a.name.as_ref().ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "missing `name = \"...\"`: every service task needs a name",
        )
    })?;
    if name.value().trim().is_empty() {
        return Err(syn::Error::new(name.span(), "the task name must not be empty"));
    }
    let mut sets = Vec::new();
    if let Some(d) = &a.description {
        sets.push(quote!(c.description = ::core::option::Option::Some(::std::string::String::from(#d));));
    }
    if let Some(r) = &a.retries {
        let n: u32 = r.base10_parse()?;
        sets.push(quote!(c.retry.max_attempts = #n + 1;));
    }
    let dur = |ns: u64| quote!(::std::time::Duration::from_nanos(#ns));
    if let Some((_, ns)) = a.timeout {
        let d = dur(ns);
        sets.push(quote!(c.timeout.total = ::core::option::Option::Some(#d);));
    }
    if let Some((_, ns)) = a.attempt_timeout {
        let d = dur(ns);
        sets.push(quote!(c.timeout.attempt = ::core::option::Option::Some(#d);));
    }
    if let Some((_, ns)) = a.backoff {
        let d = dur(ns);
        sets.push(quote!(c.retry.initial_delay = #d;));
    }
    if let Some((_, ns)) = a.max_backoff {
        let d = dur(ns);
        sets.push(quote!(c.retry.max_delay = #d;));
    }
    if let Some(j) = &a.jitter {
        sets.push(quote!(c.retry.jitter = #j;));
    }
    if let Some(m) = &a.retry_mode {
        sets.push(quote!(c.retry.mode = #m;));
    }
    if let Some(b) = &a.breaker {
        sets.push(quote!({
            let mut b = <#core::BreakerConfig as ::core::default::Default>::default();
            #(#b)*
            c.breaker = ::core::option::Option::Some(b);
        }));
    }
    if let Some(n) = &a.bulkhead {
        let n: u32 = n.base10_parse()?;
        if n == 0 {
            return Err(syn::Error::new(
                a.bulkhead.as_ref().map(|l| l.span()).unwrap_or_else(Span::call_site),
                "bulkhead must allow at least 1 execution",
            ));
        }
        sets.push(quote!(c.bulkhead = ::core::option::Option::Some(#core::BulkheadConfig { max_concurrent: #n, ..::core::default::Default::default() });));
    }
    for (k, v) in &a.attributes {
        sets.push(quote!(c.attributes.insert(::std::string::String::from(#k), ::std::string::String::from(#v));));
    }
    Ok(quote!({
        let mut c = #core::TaskConfig::named(#name);
        #(#sets)*
        c
    }))
}

/// Expands the attribute.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand_inner(args, item.clone()) {
        Ok(ts) => ts,
        Err(e) => {
            let err = e.to_compile_error();
            quote!(#err #item)
        }
    }
}

fn expand_inner(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse_args(args)?;
    let body = config_body(&args)?;
    let core = core_path();
    if let Ok(mut imp) = syn::parse2::<ItemImpl>(item.clone()) {
        let f: syn::ImplItemFn = syn::parse_quote!(
            fn config(&self) -> #core::TaskConfig #body
        );
        imp.items.push(syn::ImplItem::Fn(f));
        return Ok(imp.into_token_stream());
    }
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[service_task] goes on an `async fn` or an `impl ServiceTask for T` block",
        )
    })?;
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "a service task fn must be `async`",
        ));
    }
    let inputs: Vec<&FnArg> = func.sig.inputs.iter().collect();
    if inputs.len() != 2 {
        return Err(syn::Error::new_spanned(
            &func.sig.inputs,
            "a service task fn takes two arguments: `cx: &TaskContext, input: YourInput`",
        ));
    }
    let input_ty = match inputs[1] {
        FnArg::Typed(p) => (*p.ty).clone(),
        FnArg::Receiver(r) => return Err(syn::Error::new_spanned(r, "a service task fn cannot take `self`")),
    };
    let output_ty = result_ok_type(&func.sig.output)?;
    let fn_name = &func.sig.ident;
    let vis = &func.vis;
    let type_name = match &args.type_name {
        Some(l) => format_ident!("{}", l.value()),
        None => format_ident!("{}Task", camel(&fn_name.to_string())),
    };
    let doc = format!(
        "The `{}` service task (generated by `#[service_task]` from `{}`).",
        args.name.as_ref().map(|n| n.value()).unwrap_or_default(),
        fn_name
    );
    Ok(quote! {
        #func

        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #type_name;

        impl #core::ServiceTask for #type_name {
            type Input = #input_ty;
            type Output = #output_ty;

            fn config(&self) -> #core::TaskConfig #body

            fn run(
                &self,
                cx: &#core::TaskContext,
                input: Self::Input,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::Output, #core::TaskError>> + ::core::marker::Send {
                async move { #fn_name(cx, input).await.map_err(::core::convert::Into::into) }
            }
        }
    })
}

fn result_ok_type(ret: &ReturnType) -> syn::Result<Type> {
    let err = || syn::Error::new_spanned(ret, "a service task fn returns `Result<Output, TaskError>`");
    let ReturnType::Type(_, ty) = ret else {
        return Err(err());
    };
    let Type::Path(p) = &**ty else { return Err(err()) };
    let last = p.path.segments.last().ok_or_else(err)?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(err());
    };
    match args.args.first() {
        Some(GenericArgument::Type(t)) => Ok(t.clone()),
        _ => Err(err()),
    }
}

fn camel(s: &str) -> String {
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
