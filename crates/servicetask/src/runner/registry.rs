//! Type-erased registered tasks: run by name from JSON variables (what the BPMN engine does),
//! and describe themselves with a JSON Schema.

#[cfg(feature = "engine")]
use std::sync::Arc;

use servicetask_core::layer::BoxFuture;
use servicetask_core::{task_schema, ServiceTask, TaskConfig, TaskError, TaskInput, TaskOutcome};

use super::execute::{RunOptions, TaskHandle};

/// The outcome of a JSON run: output variables on completion.
pub type JsonOutcome = TaskOutcome<serde_json::Map<String, serde_json::Value>>;

/// A registered task of any type.
pub trait RegisteredTask: Send + Sync + 'static {
    /// The resolved configuration.
    fn config(&self) -> &TaskConfig;
    /// JSON Schemas of input and output.
    fn schema(&self) -> serde_json::Value;
    /// The input's `#[task(sensitive)]` fields: variables of these names are redacted wherever
    /// the CLI shows or stores variables.
    fn sensitive_fields(&self) -> &'static [&'static str];
    /// Runs from JSON variables; the output becomes variables (an object's fields, or `result`).
    fn run_json(
        &self,
        variables: serde_json::Map<String, serde_json::Value>,
        options: RunOptions,
    ) -> BoxFuture<'_, JsonOutcome>;
    /// [`RegisteredTask::run_json`] as the BPMN engine's service call: the future owns the
    /// task and answers with the engine's result type, in one boxed future.
    #[cfg(feature = "engine")]
    fn run_for_engine(
        self: Arc<Self>,
        variables: serde_json::Map<String, serde_json::Value>,
        options: RunOptions,
    ) -> servicetask_engine::ServiceFuture;
}

impl<T: ServiceTask> RegisteredTask for TaskHandle<T> {
    fn config(&self) -> &TaskConfig {
        TaskHandle::config(self)
    }

    fn schema(&self) -> serde_json::Value {
        task_schema(self.task())
    }

    fn sensitive_fields(&self) -> &'static [&'static str] {
        <T::Input as TaskInput>::SENSITIVE_FIELDS
    }

    fn run_json(
        &self,
        variables: serde_json::Map<String, serde_json::Value>,
        options: RunOptions,
    ) -> BoxFuture<'_, JsonOutcome> {
        Box::pin(async move {
            let (input, options) = Self::prepare(variables, options);
            self.execute(input, options).await.map(output_to_variables)
        })
    }

    #[cfg(feature = "engine")]
    fn run_for_engine(
        self: Arc<Self>,
        variables: serde_json::Map<String, serde_json::Value>,
        options: RunOptions,
    ) -> servicetask_engine::ServiceFuture {
        // everything, deserialising the input included, happens when the engine polls: a
        // panicking `Deserialize` is caught there like a panicking task
        Box::pin(async move {
            let (input, options) = Self::prepare(variables, options);
            crate::engine::service_result(self.execute(input, options).await.map(output_to_variables))
        })
    }
}

impl<T: ServiceTask> TaskHandle<T> {
    /// Deserialises the input from `variables` and keeps them as `cx.variables()` (unless the
    /// options carry others).
    fn prepare(
        variables: serde_json::Map<String, serde_json::Value>,
        mut options: RunOptions,
    ) -> (Result<T::Input, TaskError>, RunOptions) {
        let (input, variables) = input_from_variables::<T::Input>(variables);
        if options.variables.is_empty() {
            options.variables = variables;
        }
        (input, options)
    }
}

/// Deserialises a task input from process variables (an empty map also accepts `()`-like
/// inputs), handing the variables back. They are read as one JSON object, in place: no copy.
///
/// The error names the field at fault and the type it expects, never a value (see
/// [`super::input_error`]): serde_json's own message would quote it.
pub(crate) fn input_from_variables<I: serde::de::DeserializeOwned + TaskInput>(
    variables: serde_json::Map<String, serde_json::Value>,
) -> (Result<I, TaskError>, serde_json::Map<String, serde_json::Value>) {
    let object = serde_json::Value::Object(variables);
    let input = match I::deserialize(&object) {
        Ok(v) => Ok(v),
        Err(_) => match I::deserialize(&serde_json::Value::Null) {
            Ok(v) => Ok(v),
            Err(_) => {
                let why = super::input_error::explain::<I>(&object, I::SENSITIVE_FIELDS);
                Err(
                    TaskError::validation(format!("the process variables do not fit the task's input: {why}"))
                        .with_suggestion(
                            "set the variables the task's input schema requires (see `servicetask schema`)",
                        ),
                )
            }
        },
    };
    let serde_json::Value::Object(variables) = object else {
        unreachable!("built as an object above")
    };
    (input, variables)
}

/// Output to variables: an object's fields, nothing for `null`, otherwise `{"result": value}`.
pub(crate) fn output_to_variables<O: serde::Serialize>(output: O) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(output) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(serde_json::Value::Null) => serde_json::Map::new(),
        Ok(v) => {
            let mut m = serde_json::Map::new();
            m.insert("result".into(), v);
            m
        }
        Err(e) => {
            let mut m = serde_json::Map::new();
            m.insert("serialization_error".into(), serde_json::Value::String(e.to_string()));
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_outputs_become_result_variable() {
        assert_eq!(output_to_variables(3)["result"], 3);
        assert!(output_to_variables(()).is_empty());
        assert_eq!(output_to_variables(serde_json::json!({"a": 1}))["a"], 1);
    }

    #[test]
    fn unit_input_accepts_any_variables() {
        let mut vars = serde_json::Map::new();
        vars.insert("x".into(), 1.into());
        let (input, back) = input_from_variables::<()>(vars.clone());
        assert!(input.is_ok());
        assert_eq!(back, vars);
    }

    /// The variables are read as one JSON object, as `serde_json::from_value` would: a newtype
    /// input gets the whole object, not null.
    #[test]
    fn a_newtype_input_gets_the_whole_object() {
        #[derive(serde::Deserialize)]
        struct Whole(serde_json::Value);
        impl TaskInput for Whole {}
        let mut vars = serde_json::Map::new();
        vars.insert("x".into(), 1.into());
        let (input, _) = input_from_variables::<Whole>(vars);
        assert_eq!(input.unwrap().0, serde_json::json!({"x": 1}));
        #[derive(Debug, serde::Deserialize)]
        struct Fields {
            x: i64,
        }
        impl TaskInput for Fields {}
        let (input, _) = input_from_variables::<Fields>(serde_json::Map::new());
        assert_eq!(input.unwrap_err().class(), servicetask_core::ErrorClass::Validation);
        let mut vars = serde_json::Map::new();
        vars.insert("x".into(), 7.into());
        assert_eq!(input_from_variables::<Fields>(vars).0.unwrap().x, 7);
    }
}
