"""IP address management: subnet arithmetic and race-free address allocation."""
