//! The routes: one handler per operation, each turning a request into one [`Host`] call and
//! its result into JSON or a [`Problem`]. No SQL and no BPMN semantics here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use servicetask_store::{InstanceQuery, InstanceState};
use servicetask_worker::view::InstanceView;
use servicetask_worker::{Host, MetricsSnapshot, StartRequest};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::json::ApiJson;
use crate::problem::{FieldError, Problem};

/// A BPMN file to deploy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployRequest {
    /// The file name (shown in diagnostics).
    pub name: String,
    /// The BPMN XML.
    pub xml: String,
}

/// A deployment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    /// Its id (a content hash).
    pub id: String,
    /// The file name.
    pub name: String,
    /// Its processes with their versions.
    pub processes: Vec<ProcessVersion>,
    /// When it was deployed (Unix ms).
    pub created_ms: i64,
}

/// A process of a deployment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessVersion {
    /// The process id.
    pub process_id: String,
    /// 1 for the first content deployed under this id, then one more per new content.
    pub version: i64,
}

/// What starting an instance takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartBody {
    /// The process to start (its newest version unless `deploymentId` is given).
    pub process_id: String,
    /// A specific deployment.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// Start variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Your key for the instance (messages can be correlated by it).
    #[serde(default)]
    pub business_key: Option<String>,
    /// A W3C traceparent: the instance joins that trace.
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// Variables to set.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariablesBody {
    /// Variables set where the task (or incident) is.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// A message to correlate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageBody {
    /// The message name.
    pub name: String,
    /// The instance to deliver to.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Else: the live instance with this business key that catches it.
    #[serde(default)]
    pub business_key: Option<String>,
    /// Variables set where it is caught.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// A signal to broadcast.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignalBody {
    /// The signal name.
    pub name: String,
    /// Variables set where it is caught.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// How many instances caught a signal.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalResult {
    /// Instances that caught it.
    pub caught: usize,
}

/// Filters of the instance listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only in this state (`active`, `waiting`, `incident`, `completed`, `failed`, `cancelled`).
    pub state: Option<String>,
    /// Only of this process.
    pub process_id: Option<String>,
    /// Only with this business key.
    pub business_key: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<String>,
    /// Skip this many.
    pub offset: Option<String>,
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "servicetask serve", description = "The durable BPMN service of servicetask."),
    paths(deploy, deployments, start, list, instance, history, complete_task, correlate, signal, retry_incident, resolve_incident, cancel, metrics),
    components(schemas(Problem, FieldError, InstanceView, DeploymentView, MetricsSnapshot)),
    // with a token configured, every operation needs it, reads too
    security(("token" = [])),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

type Api = State<Arc<Host>>;
type ApiResult<T> = Result<T, Problem>;

/// The router, with `body_limit` bytes for request bodies.
pub fn router(host: Arc<Host>, body_limit: usize) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/health", get(|| async { "ok" }))
        .route("/v1/metrics", get(metrics))
        .route("/v1/deployments", post(deploy).get(deployments))
        .route("/v1/instances", post(start).get(list))
        .route("/v1/instances/{id}", get(instance))
        .route("/v1/instances/{id}/history", get(history))
        .route("/v1/instances/{id}/tasks/{key}/complete", post(complete_task))
        .route("/v1/instances/{id}/incidents/{key}/retry", post(retry_incident))
        .route("/v1/instances/{id}/incidents/{key}/resolve", post(resolve_incident))
        .route("/v1/instances/{id}/cancel", post(cancel))
        .route("/v1/messages", post(correlate))
        .route("/v1/signals", post(signal))
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                "no-such-route",
                "no such route: see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(host)
}

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// This node's operator counters and the store's figures.
#[utoipa::path(get, path = "/v1/metrics", responses((status = 200, body = MetricsSnapshot)))]
async fn metrics(State(host): Api) -> Json<MetricsSnapshot> {
    Json(host.metrics().snapshot())
}

fn deployment_view(d: servicetask_store::Deployment) -> DeploymentView {
    DeploymentView {
        id: d.id,
        name: d.file,
        processes: d
            .processes
            .into_iter()
            .map(|(process_id, version)| ProcessVersion { process_id, version })
            .collect(),
        created_ms: d.created_ms,
    }
}

/// Deploys a BPMN file (validated; the same content deploys once).
#[utoipa::path(post, path = "/v1/deployments", request_body = DeployRequest, security(("token" = [])),
    responses((status = 201, body = DeploymentView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn deploy(State(host): Api, ApiJson(body): ApiJson<DeployRequest>) -> ApiResult<impl IntoResponse> {
    if body.name.trim().is_empty() {
        return Err(Problem::bad_field("name", "name: give the file a name"));
    }
    let d = host.deploy(&body.name, body.xml.as_bytes()).await?;
    Ok((StatusCode::CREATED, Json(deployment_view(d))))
}

/// Every deployment, oldest first.
#[utoipa::path(get, path = "/v1/deployments", responses((status = 200, body = [DeploymentView])))]
async fn deployments(State(host): Api) -> ApiResult<Json<Vec<DeploymentView>>> {
    let all = host
        .store()
        .deployments()
        .await
        .map_err(servicetask_worker::HostError::from)?;
    Ok(Json(all.into_iter().map(deployment_view).collect()))
}

/// Starts an instance and runs it to its first wait.
#[utoipa::path(post, path = "/v1/instances", request_body = StartBody, security(("token" = [])),
    responses((status = 201, body = InstanceView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn start(State(host): Api, ApiJson(body): ApiJson<StartBody>) -> ApiResult<impl IntoResponse> {
    if let Some(tp) = &body.traceparent {
        if servicetask_engine::telemetry::parse_traceparent(tp).is_none() {
            return Err(Problem::bad_field(
                "traceparent",
                "traceparent: not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)",
            ));
        }
    }
    let view = host
        .start(StartRequest {
            process_id: body.process_id,
            deployment_id: body.deployment_id,
            variables: body.variables,
            business_key: body.business_key,
            traceparent: body.traceparent,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Instances, oldest first.
#[utoipa::path(get, path = "/v1/instances", params(ListParams), responses((status = 200, body = [InstanceView])))]
async fn list(State(host): Api, Query(raw): Query<HashMap<String, String>>) -> ApiResult<Json<Vec<InstanceView>>> {
    let known = ["state", "processId", "businessKey", "limit", "offset"];
    if let Some(k) = raw.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Problem::bad_field(
            k,
            format!("{k}: unknown parameter (known: {})", known.join(", ")),
        ));
    }
    // the stores take signed 64-bit numbers: a larger one would wrap to a negative number
    let number = |name: &str, default: usize| -> ApiResult<usize> {
        let Some(v) = raw.get(name) else {
            return Ok(default);
        };
        let too_large = || Problem::bad_field(name, format!("{name}: at most {}", i64::MAX));
        match v.parse::<i64>() {
            Ok(n) if n >= 0 => usize::try_from(n).map_err(|_| too_large()),
            Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Err(too_large()),
            _ => Err(Problem::bad_field(name, format!("{name}: '{v}' is not a whole number"))),
        }
    };
    let state = match raw.get("state") {
        None => None,
        Some(s) => Some(InstanceState::parse(s).ok_or_else(|| {
            Problem::bad_field(
                "state",
                format!("state: '{s}' is not one of active, waiting, incident, completed, failed, cancelled"),
            )
        })?),
    };
    let limit = number("limit", 100)?;
    if limit > 1000 {
        return Err(Problem::bad_field("limit", "limit: at most 1000"));
    }
    let offset = number("offset", 0)?;
    let q = InstanceQuery {
        state,
        process_id: raw.get("processId").cloned(),
        business_key: raw.get("businessKey").cloned(),
        limit: Some(limit),
        offset,
    };
    Ok(Json(host.instances(q).await?))
}

/// One instance: state, variables, active elements, incidents, completed path.
#[utoipa::path(get, path = "/v1/instances/{id}", params(("id" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn instance(State(host): Api, Path(id): Path<String>) -> ApiResult<Json<InstanceView>> {
    Ok(Json(host.instance(&id).await?))
}

/// The history of one instance, in order.
#[utoipa::path(get, path = "/v1/instances/{id}/history", params(("id" = String, Path)),
    responses((status = 200, body = [Object])))]
async fn history(State(host): Api, Path(id): Path<String>) -> ApiResult<Json<Vec<servicetask_store::HistoryEvent>>> {
    host.instance(&id).await?;
    let h = host
        .store()
        .history(&id)
        .await
        .map_err(servicetask_worker::HostError::from)?;
    Ok(Json(h))
}

/// Completes a waiting task (by token id or element id).
#[utoipa::path(post, path = "/v1/instances/{id}/tasks/{key}/complete", request_body = VariablesBody,
    params(("id" = String, Path), ("key" = String, Path, description = "token id or element id")), security(("token" = [])),
    responses((status = 200, body = InstanceView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn complete_task(
    State(host): Api,
    Path((id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<VariablesBody>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(host.complete_task(&id, &key, body.variables).await?))
}

/// Retries an incident after setting variables.
#[utoipa::path(post, path = "/v1/instances/{id}/incidents/{key}/retry", request_body = VariablesBody,
    params(("id" = String, Path), ("key" = String, Path)), security(("token" = [])),
    responses((status = 200, body = InstanceView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn retry_incident(
    State(host): Api,
    Path((id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<VariablesBody>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(host.retry_incident(&id, &key, body.variables).await?))
}

/// Resolves an incident by hand: its task counts as completed with these variables.
#[utoipa::path(post, path = "/v1/instances/{id}/incidents/{key}/resolve", request_body = VariablesBody,
    params(("id" = String, Path), ("key" = String, Path)), security(("token" = [])),
    responses((status = 200, body = InstanceView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn resolve_incident(
    State(host): Api,
    Path((id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<VariablesBody>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(host.resolve_incident(&id, &key, body.variables).await?))
}

/// Cancels an instance.
#[utoipa::path(post, path = "/v1/instances/{id}/cancel", params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, body = InstanceView), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn cancel(State(host): Api, Path(id): Path<String>) -> ApiResult<Json<InstanceView>> {
    Ok(Json(host.cancel(&id).await?))
}

/// Correlates a message with one instance (by id or business key).
#[utoipa::path(post, path = "/v1/messages", request_body = MessageBody, security(("token" = [])),
    responses((status = 200, body = InstanceView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn correlate(State(host): Api, ApiJson(body): ApiJson<MessageBody>) -> ApiResult<Json<InstanceView>> {
    if body.instance_id.is_none() && body.business_key.is_none() {
        return Err(Problem::bad_field(
            "instanceId",
            "instanceId: give instanceId or businessKey",
        ));
    }
    let caught = host
        .correlate_message(
            &body.name,
            body.instance_id.as_deref(),
            body.business_key.as_deref(),
            body.variables,
        )
        .await?;
    caught.map(Json).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-correlated",
            format!("no live instance waits for message '{}'", body.name),
        )
        .field("name")
    })
}

/// Broadcasts a signal to every live instance.
#[utoipa::path(post, path = "/v1/signals", request_body = SignalBody, security(("token" = [])),
    responses((status = 200, body = SignalResult)))]
async fn signal(State(host): Api, ApiJson(body): ApiJson<SignalBody>) -> ApiResult<Json<SignalResult>> {
    let caught = host.broadcast_signal(&body.name, body.variables).await?;
    Ok(Json(SignalResult { caught }))
}
