"""The sample survey: draw, plan, check rows, cases, deductions, estimates, indicators, score. Pure: tables in, tables out."""
