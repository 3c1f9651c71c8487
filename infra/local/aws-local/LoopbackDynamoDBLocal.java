// Starts DynamoDB Local (AWS's own jar) bound to 127.0.0.1 only. Its command line has no host
// option and its Jetty server listens on every interface, so this launcher builds the server the
// jar's own main would (ServerRunner.createServerFromCommandLineArgs), sets the host of each of
// its connectors to loopback before starting it, then prints the bound port on one line
// ("convoy-dynamodb-local port N") for the Node side to read. The jar refuses `-port 0`, so a
// placeholder goes to the jar and the connector is given the port asked for (0 = any free port).
// Run as a single-file source program (`java LoopbackDynamoDBLocal.java ...`): no build step.
import java.lang.reflect.Field;

public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    int port = 8000;
    String[] jarArgs = args.clone();
    for (int i = 0; i + 1 < jarArgs.length; i++) {
      if (jarArgs[i].equals("-port")) {
        port = Integer.parseInt(jarArgs[i + 1]);
        jarArgs[i + 1] = "8000";
      }
    }
    Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) jarArgs);
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object server = field.get(proxy);
    Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
    for (Object connector : connectors) {
      connector.getClass().getMethod("setHost", String.class).invoke(connector, "127.0.0.1");
      connector.getClass().getMethod("setPort", int.class).invoke(connector, port);
    }
    proxy.getClass().getMethod("start").invoke(proxy);
    for (Object connector : connectors) {
      Object bound = connector.getClass().getMethod("getLocalPort").invoke(connector);
      System.out.println("convoy-dynamodb-local port " + bound);
    }
    System.out.flush();
  }
}
