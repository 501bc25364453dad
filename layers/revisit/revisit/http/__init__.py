"""HTTP glue: the API Gateway resolver, request parsing and the one error shape.

``{"error": {"code": "...", "message": "...", "details": [{"field", "message", "type"}]}}``
"""
