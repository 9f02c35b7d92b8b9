//! servicetask-cli (being written).
