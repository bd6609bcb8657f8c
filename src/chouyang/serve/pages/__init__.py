"""The pages of `chouyang serve`, one module per page: its routes and the presenters its templates print.

login (登录), progress (进度), review (核对), entry (录入), cases (个案与反馈), score (计分与报告),
log (日志); the instrument pages are serve/instrument_pages.py.  A route calls a workstation step
(serve/workstation/) in a worker thread and renders a template, or redirects after a write.
"""
