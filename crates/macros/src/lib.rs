//! servicetask-macros (being written).
