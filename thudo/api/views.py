from django.http import HttpRequest, JsonResponse

from thudo.core.errors import NotFound


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown paths under /api/ answer with the API's error body, not an HTML page."""
    error = NotFound()
    body = error.as_dict()
    body["fields"] = {"path": [request.path]}
    return JsonResponse(body, status=404)
