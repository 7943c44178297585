"""lvslab: a real-kernel lab of User-Mode Linux guests in a private network namespace."""
