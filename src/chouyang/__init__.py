"""chouyang (抽样): sampling audits of population and family-planning registers."""

__version__ = "0.1.0"
