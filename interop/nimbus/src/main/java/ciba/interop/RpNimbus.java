package ciba.interop;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jwt.JWT;
import com.nimbusds.oauth2.sdk.ErrorObject;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.PrivateKeyJWT;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.ciba.AuthRequestID;
import com.nimbusds.oauth2.sdk.ciba.CIBAGrant;
import com.nimbusds.oauth2.sdk.ciba.CIBARequest;
import com.nimbusds.oauth2.sdk.ciba.CIBARequestAcknowledgement;
import com.nimbusds.oauth2.sdk.ciba.CIBAResponse;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import com.nimbusds.oauth2.sdk.token.BearerAccessToken;
import com.nimbusds.oauth2.sdk.util.JSONObjectUtils;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import com.nimbusds.openid.connect.sdk.validators.IDTokenValidator;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.minidev.json.JSONObject;

/**
 * CIBA client driver built on the Nimbus OAuth 2.0 / OpenID Connect SDK, for the interop
 * matrix. Same command line and result line as the JavaScript drivers in interop/:
 *
 * <pre>
 * java -cp ... ciba.interop.RpNimbus --issuer URL --client-id ID
 *     (--client-secret S | --private-key FILE.jwk) [--auth-method client_secret_basic|private_key_jwt]
 *     [--login-hint alice] [--scope "openid"] [--binding-message M] [--requested-expiry S]
 *     [--id-token-alg EdDSA] [--mode poll|ping] [--notification-port N] [--expect approve|deny|expire]
 * </pre>
 *
 * <p>It discovers the provider, sends the backchannel authentication request, then gets the
 * tokens by polling (waiting {@code interval}, 5 s when none is given, plus 5 s on each
 * {@code slow_down}, until {@code expires_in} + 30 s) or, in ping mode, by waiting for the
 * notification on 127.0.0.1 (Bearer {@code client_notification_token} required) and making one
 * token request. The ID token is validated by Nimbus's {@link IDTokenValidator}: signature
 * against the issuer's JWKS with the expected algorithm, iss, aud, exp, iat.
 *
 * <p>Prints one JSON line on stdout ({@code outcome}: tokens, access_denied, expired_token or
 * error; {@code claims}; {@code polls}; {@code error}; {@code notified} in ping mode); logs go
 * to stderr. Exit 0 when the outcome is the one {@code --expect} asks for, 1 otherwise, 2 on a
 * usage error.
 */
public final class RpNimbus {
  private static final int DEFAULT_INTERVAL = 5;
  private static final int POLL_GRACE = 30;
  private static final int PING_GRACE = 2;
  private static final int HTTP_TIMEOUT_MS = 15_000;
  private static final int MAX_NOTIFICATION = 64 * 1024;

  private final Map<String, String> args;
  private int polls;
  private Boolean notified;

  private RpNimbus(Map<String, String> args) {
    this.args = args;
  }

  public static void main(String[] argv) {
    Map<String, String> args;
    try {
      args = parseArgs(argv);
    } catch (IllegalArgumentException e) {
      System.err.println("rp-nimbus: " + e.getMessage());
      System.exit(2);
      return;
    }
    RpNimbus driver = new RpNimbus(args);
    String expect = args.getOrDefault("expect", "approve");
    Map<String, Object> result = new LinkedHashMap<>();
    String outcome;
    try {
      outcome = driver.run(result);
    } catch (Exception e) {
      log("error: " + e);
      outcome = "error";
      result.put("error", e.toString());
    }
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("outcome", outcome);
    line.put("claims", result.get("claims"));
    line.put("polls", driver.polls);
    line.put("error", result.get("error"));
    line.put("token_type", result.get("token_type"));
    if (driver.notified != null) {
      line.put("notified", driver.notified);
    }
    System.out.println(new JSONObject(line).toJSONString());
    System.out.flush();
    boolean asked =
        ("approve".equals(expect) && "tokens".equals(outcome))
            || ("deny".equals(expect) && "access_denied".equals(outcome))
            || ("expire".equals(expect) && "expired_token".equals(outcome));
    System.exit(asked ? 0 : 1);
  }

  private static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      String flag = argv[i];
      if (!flag.startsWith("--") || i + 1 >= argv.length) {
        throw new IllegalArgumentException("expected --flag value pairs, got " + flag);
      }
      args.put(flag.substring(2), argv[i + 1]);
    }
    for (String required : new String[] {"issuer", "client-id"}) {
      if (!args.containsKey(required)) {
        throw new IllegalArgumentException("--" + required + " is required");
      }
    }
    if (args.containsKey("client-secret") == args.containsKey("private-key")) {
      throw new IllegalArgumentException("give one of --client-secret and --private-key");
    }
    String mode = args.getOrDefault("mode", "poll");
    if (!mode.equals("poll") && !mode.equals("ping")) {
      throw new IllegalArgumentException("--mode is poll or ping");
    }
    return args;
  }

  private static void log(String message) {
    System.err.println("rp-nimbus: " + message);
  }

  /** Runs the flow; returns the outcome and puts claims/error into {@code result}. */
  private String run(Map<String, Object> result) throws Exception {
    Issuer issuer = new Issuer(args.get("issuer"));
    OIDCProviderMetadata op = OIDCProviderMetadata.resolve(issuer, HTTP_TIMEOUT_MS, HTTP_TIMEOUT_MS);
    URI backchannel = op.getBackChannelAuthenticationEndpointURI();
    URI tokenEndpoint = op.getTokenEndpointURI();
    if (backchannel == null) {
      throw new IllegalStateException("the provider metadata has no backchannel_authentication_endpoint");
    }
    ClientID clientId = new ClientID(args.get("client-id"));
    boolean ping = "ping".equals(args.getOrDefault("mode", "poll"));

    HttpServer receiver = null;
    CompletableFuture<String> notification = new CompletableFuture<>();
    BearerAccessToken notificationToken = null;
    if (ping) {
      notificationToken = new BearerAccessToken(randomToken());
      receiver = startReceiver(notificationToken, notification);
      notified = false;
    }
    try {
      CIBARequest.Builder builder =
          new CIBARequest.Builder(
                  authentication(clientId, backchannel),
                  Scope.parse(args.getOrDefault("scope", "openid")))
              .endpointURI(backchannel)
              .loginHint(args.getOrDefault("login-hint", "alice"));
      if (args.containsKey("binding-message")) {
        builder.bindingMessage(args.get("binding-message"));
      }
      if (args.containsKey("requested-expiry")) {
        builder.requestedExpiry(Integer.valueOf(args.get("requested-expiry")));
      }
      if (notificationToken != null) {
        builder.clientNotificationToken(notificationToken);
      }
      CIBAResponse response = CIBAResponse.parse(send(builder.build().toHTTPRequest()));
      if (!response.indicatesSuccess()) {
        ErrorObject error = response.toErrorResponse().getErrorObject();
        result.put("error", describe(error));
        return outcomeOf(error);
      }
      CIBARequestAcknowledgement ack = response.toRequestAcknowledgement();
      AuthRequestID id = ack.getAuthRequestID();
      log("auth_req_id received, expires_in " + ack.getExpiresIn());

      TokenResponse tokens;
      if (ping) {
        try {
          String notifiedId =
              notification.get(ack.getExpiresIn() + PING_GRACE, TimeUnit.SECONDS);
          if (!constantTimeEquals(notifiedId, id.getValue())) {
            throw new IllegalStateException("the notification names another auth_req_id");
          }
          notified = true;
        } catch (TimeoutException e) {
          log("no notification within expires_in; asking the token endpoint once");
        }
        tokens = tokenRequest(clientId, tokenEndpoint, id);
      } else {
        tokens = poll(clientId, tokenEndpoint, ack);
      }

      if (!tokens.indicatesSuccess()) {
        ErrorObject error = tokens.toErrorResponse().getErrorObject();
        result.put("error", describe(error));
        return outcomeOf(error);
      }
      OIDCTokenResponse ok = (OIDCTokenResponse) tokens.toSuccessResponse();
      JWT idToken = ok.getOIDCTokens().getIDToken();
      if (idToken == null) {
        throw new IllegalStateException("the token response has no id_token");
      }
      log("id_token header " + idToken.getHeader().toJSONObject());
      IDTokenValidator validator =
          new IDTokenValidator(
              issuer,
              clientId,
              JWSAlgorithm.parse(args.getOrDefault("id-token-alg", "RS256")),
              op.getJWKSetURI().toURL());
      IDTokenClaimsSet claims = validator.validate(idToken, null);
      result.put("claims", claims.toJSONObject());
      result.put("token_type", ok.getOIDCTokens().getAccessToken().getType().getValue());
      return "tokens";
    } finally {
      if (receiver != null) {
        receiver.stop(0);
      }
    }
  }

  /** Polls the token endpoint until an answer other than pending/slow_down, or the deadline. */
  private TokenResponse poll(ClientID clientId, URI tokenEndpoint, CIBARequestAcknowledgement ack)
      throws Exception {
    Integer given = ack.getMinWaitInterval();
    int interval = given == null || given <= 0 ? DEFAULT_INTERVAL : given;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(ack.getExpiresIn() + POLL_GRACE);
    while (true) {
      Thread.sleep(TimeUnit.SECONDS.toMillis(interval));
      TokenResponse response = tokenRequest(clientId, tokenEndpoint, ack.getAuthRequestID());
      if (response.indicatesSuccess()) {
        return response;
      }
      String code = response.toErrorResponse().getErrorObject().getCode();
      if ("slow_down".equals(code)) {
        interval += 5;
      } else if (!"authorization_pending".equals(code)) {
        return response;
      }
      if (System.nanoTime() > deadline) {
        return response;
      }
    }
  }

  private TokenResponse tokenRequest(ClientID clientId, URI tokenEndpoint, AuthRequestID id)
      throws Exception {
    polls++;
    TokenRequest request =
        new TokenRequest(tokenEndpoint, authentication(clientId, tokenEndpoint), new CIBAGrant(id));
    return OIDCTokenResponseParser.parse(send(request.toHTTPRequest()));
  }

  private static HTTPResponse send(com.nimbusds.oauth2.sdk.http.HTTPRequest request)
      throws IOException {
    request.setConnectTimeout(HTTP_TIMEOUT_MS);
    request.setReadTimeout(HTTP_TIMEOUT_MS);
    request.setFollowRedirects(false);
    return request.send();
  }

  /** client_secret_basic, or a fresh private_key_jwt assertion (ES256) for {@code audience}. */
  private ClientAuthentication authentication(ClientID clientId, URI audience) throws Exception {
    String method = args.getOrDefault("auth-method", args.containsKey("private-key") ? "private_key_jwt" : "client_secret_basic");
    switch (method) {
      case "client_secret_basic":
        return new ClientSecretBasic(clientId, new Secret(args.get("client-secret")));
      case "private_key_jwt":
        JWK jwk = JWK.parse(Files.readString(Path.of(args.get("private-key"))));
        ECKey key = jwk.toECKey();
        return new PrivateKeyJWT(
            clientId, audience, JWSAlgorithm.ES256, key.toECPrivateKey(), key.getKeyID(), null);
      default:
        throw new IllegalArgumentException("unsupported --auth-method " + method);
    }
  }

  /** A loopback receiver for the ping: one POST with the right bearer token and an auth_req_id. */
  private HttpServer startReceiver(BearerAccessToken token, CompletableFuture<String> arrived)
      throws IOException {
    int port = Integer.parseInt(args.getOrDefault("notification-port", "0"));
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
    String expected = "Bearer " + token.getValue();
    server.createContext(
        "/",
        exchange -> {
          int status = 204;
          try (InputStream in = exchange.getRequestBody()) {
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            byte[] body = in.readNBytes(MAX_NOTIFICATION + 1);
            if (!"POST".equals(exchange.getRequestMethod())) {
              status = 405;
            } else if (auth == null || !constantTimeEquals(auth, expected)) {
              status = 401;
            } else if (body.length > MAX_NOTIFICATION) {
              status = 413;
            } else {
              try {
                JSONObject json = JSONObjectUtils.parse(new String(body, StandardCharsets.UTF_8));
                arrived.complete(JSONObjectUtils.getNonBlankString(json, "auth_req_id"));
              } catch (com.nimbusds.oauth2.sdk.ParseException e) {
                status = 400;
              }
            }
          }
          log("notification answered " + status);
          exchange.sendResponseHeaders(status, -1);
          exchange.close();
        });
    server.start();
    log("notification receiver on http://127.0.0.1:" + server.getAddress().getPort() + "/");
    return server;
  }

  private static boolean constantTimeEquals(String a, String b) {
    return MessageDigest.isEqual(
        a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  private static String randomToken() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static String outcomeOf(ErrorObject error) {
    String code = error.getCode();
    if ("access_denied".equals(code) || "expired_token".equals(code)) {
      return code;
    }
    return "error";
  }

  private static String describe(ErrorObject error) {
    String d = error.getDescription();
    return error.getCode() + (d == null ? "" : ": " + d) + " (HTTP " + error.getHTTPStatusCode() + ")";
  }
}
