//! `#[derive(TaskInput)]`: reads `#[task(...)]` field attributes and implements `TaskInput`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

#[derive(Default)]
struct FieldSpec {
    path: bool,
    required: bool,
    sensitive: bool,
    size: bool,
    non_empty: bool,
    min: Option<syn::Lit>,
    max: Option<syn::Lit>,
}

/// Expands the derive.
pub(crate) fn expand(item: TokenStream) -> TokenStream {
    match expand_inner(item) {
        Ok(ts) => ts,
        Err(e) => e.to_compile_error(),
    }
}

fn expand_inner(item: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(item)?;
    let core = quote!(::servicetask::__private::servicetask_core);
    let json = quote!(::servicetask::__private::serde_json);
    let name = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();

    let mut validate_fn: Option<syn::Path> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("task")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("validate") {
                let lit: LitStr = m.value()?.parse()?;
                validate_fn = Some(lit.parse()?);
                Ok(())
            } else {
                Err(m.error("on the struct, #[task(...)] takes `validate = \"path::to_fn\"`"))
            }
        })?;
    }

    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(TaskInput)] works on structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(TaskInput)] works on structs with named fields",
        ));
    };

    let mut sensitive = Vec::new();
    let mut paths = Vec::new();
    let mut checks = Vec::new();
    let mut constraints = Vec::new();
    let mut context = Vec::new();
    let mut size: Option<TokenStream> = None;
    let mut sensitive_paths = false;

    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let key = ident.to_string().trim_start_matches("r#").to_string();
        let mut spec = FieldSpec::default();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("task")) {
            attr.parse_nested_meta(|m| {
                let k = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                match k.as_str() {
                    "path" => spec.path = true,
                    "required" => spec.required = true,
                    "sensitive" => spec.sensitive = true,
                    "size" => spec.size = true,
                    "non_empty" => spec.non_empty = true,
                    "min" => spec.min = Some(m.value()?.parse()?),
                    "max" => spec.max = Some(m.value()?.parse()?),
                    _ => {
                        return Err(
                            m.error("unknown key; use path, required, sensitive, size, non_empty, min = N, max = N")
                        )
                    }
                }
                Ok(())
            })?;
        }
        if spec.required && !spec.path {
            return Err(syn::Error::new_spanned(
                ident,
                "`required` goes with `path`: #[task(path, required)]",
            ));
        }
        if spec.sensitive {
            sensitive.push(key.clone());
        } else {
            context.push(quote! {
                {
                    use #core::__derive::{ViaSerialize as _, ViaNothing as _};
                    if let ::core::option::Option::Some(v) = (&#core::__derive::Probe(&self.#ident)).to_json() {
                        m.insert(::std::string::String::from(#key), v);
                    }
                }
            });
        }
        if spec.path {
            let required = spec.required;
            let is_sensitive = spec.sensitive;
            sensitive_paths |= is_sensitive;
            paths.push(quote! {
                for p in #core::__derive::AsPaths::as_paths(&self.#ident) {
                    out.push(#core::TrackedPath { field: #key, path: p, required: #required, sensitive: #is_sensitive });
                }
            });
        }
        if spec.size {
            if size.is_some() {
                return Err(syn::Error::new_spanned(ident, "only one field can be #[task(size)]"));
            }
            size = Some(quote!(#core::__derive::InputSize::input_size(&self.#ident)));
        }
        if spec.non_empty {
            constraints.push(quote!((#key, "minLength", 1.0)));
            constraints.push(quote!((#key, "minItems", 1.0)));
            let msg = format!("{key}: must not be empty");
            checks.push(quote! {
                if #core::__derive::IsEmpty::is_empty_value(&self.#ident) {
                    return ::core::result::Result::Err(#core::TaskError::validation(#msg).with_suggestion(concat!("give `", #key, "` a value")));
                }
            });
        }
        if let Some(min) = &spec.min {
            constraints.push(quote!((#key, "minimum", #min as f64)));
            let msg = format!("{key}: must be at least {}", quote!(#min));
            checks.push(quote! {
                if self.#ident < #min {
                    return ::core::result::Result::Err(#core::TaskError::validation(#msg));
                }
            });
        }
        if let Some(max) = &spec.max {
            constraints.push(quote!((#key, "maximum", #max as f64)));
            let msg = format!("{key}: must be at most {}", quote!(#max));
            checks.push(quote! {
                if self.#ident > #max {
                    return ::core::result::Result::Err(#core::TaskError::validation(#msg));
                }
            });
        }
    }

    let custom = validate_fn.map(|f| quote!(#f(self)?;));
    let size_fn = size.map(|s| {
        quote! {
            fn input_size(&self) -> ::core::option::Option<u64> { #s }
        }
    });
    let paths_fn = (!paths.is_empty()).then(|| {
        quote! {
            fn tracked_paths(&self) -> ::std::vec::Vec<#core::TrackedPath> {
                let mut out = ::std::vec::Vec::new();
                #(#paths)*
                out
            }
        }
    });

    Ok(quote! {
        impl #impl_g #core::TaskInput for #name #ty_g #where_g {
            const SENSITIVE_FIELDS: &'static [&'static str] = &[#(#sensitive),*];
            const HAS_SENSITIVE_PATHS: bool = #sensitive_paths;
            const SCHEMA_CONSTRAINTS: &'static [(&'static str, &'static str, f64)] = &[#(#constraints),*];

            fn validate(&self) -> ::core::result::Result<(), #core::TaskError> {
                #(#checks)*
                #custom
                ::core::result::Result::Ok(())
            }

            #paths_fn
            #size_fn

            fn context_fields(&self) -> ::core::option::Option<#json::Value> {
                let mut m = #json::Map::new();
                #(#context)*
                ::core::option::Option::Some(#json::Value::Object(m))
            }
        }
    })
}
