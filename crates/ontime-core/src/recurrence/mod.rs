//! Recurring schedules (being written).
