"""Staff administration: creating, suspending, reinstating and moving doctors, pharmacists,
couriers and prescription reviewers, one by one or from a spreadsheet (platform admins)."""
