//! `#[service_task(...)]`: parse the attribute into a config description, then generate either
//! a unit struct implementing `ServiceTask` around an async fn, or the `config` method of an
//! `impl ServiceTask` block.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, ItemImpl, LitInt, LitStr, PathArguments, ReturnType, Type};

#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    type_name: Option<LitStr>,
    /// Statements that set fields of `c: TaskConfig`, in the order written.
    sets: Vec<TokenStream>,
    /// Deprecation warnings for the shorthands of older releases.
    warnings: Vec<TokenStream>,
}

/// The keys of the attribute itself (the sections are in [`crate::sections::SECTIONS`]).
const TOP_KEYS: &str = "name, description, retry(...), timeout(...), breaker / breaker(...), bulkhead / bulkhead(...), tracking(...), attributes(...), type_name";

/// A duration literal in nanoseconds; an error points at the literal.
pub(crate) fn duration(lit: &LitStr) -> syn::Result<u64> {
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
        let span = meta.path.span();
        // `timeout = "30s"` is the old shorthand; `timeout(...)` the section
        let shorthand = meta.input.peek(syn::Token![=]);
        match key.as_str() {
            "name" => a.name = Some(meta.value()?.parse()?),
            "type_name" => a.type_name = Some(meta.value()?.parse()?),
            "description" => {
                let d: LitStr = meta.value()?.parse()?;
                a.sets
                    .push(quote!(c.description = ::core::option::Option::Some(::std::string::String::from(#d));));
            }
            "attributes" => {
                meta.parse_nested_meta(|m| {
                    let key = m.path.to_token_stream().to_string().replace(' ', "");
                    let k = LitStr::new(&key, Span::call_site());
                    let value: LitStr = m.value()?.parse()?;
                    a.sets.push(quote!(c.attributes.insert(::std::string::String::from(#k), ::std::string::String::from(#value));));
                    Ok(())
                })?;
            }
            "retries" => {
                let lit: LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                let attempts = n.saturating_add(1);
                a.sets.push(quote!(c.retry.max_attempts = #attempts;));
                a.warnings
                    .push(deprecated(span, &key, &format!("retry(max_attempts = {attempts})")));
            }
            "timeout" | "attempt_timeout" | "backoff" | "max_backoff" if key != "timeout" || shorthand => {
                let lit: LitStr = meta.value()?.parse()?;
                let ns = duration(&lit)?;
                let d = quote!(::std::time::Duration::from_nanos(#ns));
                let (set, new) = match key.as_str() {
                    "timeout" => (
                        quote!(c.timeout.total = ::core::option::Option::Some(#d);),
                        "timeout(total = ..)",
                    ),
                    "attempt_timeout" => (
                        quote!(c.timeout.attempt = ::core::option::Option::Some(#d);),
                        "timeout(attempt = ..)",
                    ),
                    "backoff" => (quote!(c.retry.initial_delay = #d;), "retry(initial_delay = ..)"),
                    _ => (quote!(c.retry.max_delay = #d;), "retry(max_delay = ..)"),
                };
                a.sets.push(set);
                a.warnings.push(deprecated(span, &key, new));
            }
            "jitter" | "retry_mode" => {
                let lit: LitStr = meta.value()?.parse()?;
                let (ty, field, values, new): (_, _, &[&str], _) = match key.as_str() {
                    "jitter" => (
                        "Jitter",
                        "jitter",
                        &["full", "decorrelated", "none"],
                        "retry(jitter = ..)",
                    ),
                    _ => ("RetryMode", "mode", &["in_process", "engine"], "retry(mode = ..)"),
                };
                if !values.contains(&lit.value().as_str()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("`{key}` is one of: {}", values.join(", ")),
                    ));
                }
                let (ty, field) = (format_ident!("{}", ty), format_ident!("{}", field));
                let variant = format_ident!("{}", crate::sections::camel(&lit.value()));
                a.sets.push(quote!(c.retry.#field = #core::#ty::#variant;));
                a.warnings.push(deprecated(span, &key, new));
            }
            "bulkhead" if shorthand => {
                let lit: LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(lit.span(), "bulkhead must allow at least 1 execution"));
                }
                a.sets.push(
                    quote!(c.bulkhead.get_or_insert_with(::core::default::Default::default).max_concurrent = #n;),
                );
                a.warnings
                    .push(deprecated(span, &key, &format!("bulkhead(max_concurrent = {n})")));
            }
            other => match crate::sections::find(other) {
                Some(section) => a.sets.push(crate::sections::parse(&meta, section)?),
                None => return Err(meta.error(format!("unknown key; use {TOP_KEYS}"))),
            },
        }
        Ok(())
    });
    parser.parse2(args)?;
    Ok(a)
}

/// The warning for an old shorthand: it still works, and says what the file calls it.
fn deprecated(span: Span, old: &str, new: &str) -> TokenStream {
    crate::sections::deprecation(
        span,
        old,
        &format!("`{old}` is a shorthand of older releases; write `{new}`, the keys of servicetask.toml's [tasks.<name>.*] tables"),
    )
}

pub(crate) fn core_path() -> TokenStream {
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
    let sets = &a.sets;
    let warnings = &a.warnings;
    Ok(quote!({
        #(#warnings)*
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
        None => format_ident!("{}Task", crate::sections::camel(&fn_name.to_string())),
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
