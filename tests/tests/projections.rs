//! Projections: exactly-once effects (being written).
