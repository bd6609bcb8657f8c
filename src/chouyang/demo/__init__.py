"""The built-in demo county, simulated field work and simulated scans."""
