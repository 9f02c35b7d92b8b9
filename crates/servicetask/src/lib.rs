//! servicetask (being written).
