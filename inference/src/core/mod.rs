//! The request pipeline without HTTP: admission, request bodies in both shapes and their
//! validation,
//! coalescing of scoring requests into model jobs, the prediction itself and fault
//! injection. It calls
//! the backend and the feature store; it knows no routes, status codes or headers.

pub mod admission;
pub mod coalesce;
pub mod fault;
pub mod feedback;
pub mod predict;
pub mod request;
pub mod schema;
pub mod tensor;
